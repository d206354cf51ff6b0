import pytest

from decomptune.prompts import (
    DEFAULT_TEMPLATE, PROMPT_FILE, TEMPLATES, load_template, render_prompt, resolve_template, save_template,
)

C_WITH_BRACES = "int f(int x) {\n  if (x) { return 1; }\n  return \"{}\"[0];\n}"


def test_decompiled_template_is_the_tutorials():
    assert render_prompt("decompiled", "CODE") == "# This is the decompiled code:\nCODE\n# What is the source code?\n"


def test_llm4decompile_template_says_assembly():
    assert render_prompt("llm4decompile", "CODE") == "# This is the assembly code:\nCODE\n# What is the source code?\n"


def test_braces_in_code_survive_rendering():
    # C is full of braces, including a literal "{}": only the template's one slot is filled.
    rendered = render_prompt("decompiled", C_WITH_BRACES)
    assert C_WITH_BRACES in rendered
    assert rendered.count(C_WITH_BRACES) == 1


def test_literal_template_with_one_slot_is_accepted():
    assert render_prompt("<code>{}</code>\n", "x") == "<code>x</code>\n"


@pytest.mark.parametrize("bad", ["no slot here", "two {} slots {}", "decompile"])
def test_unknown_template_names_the_choices(bad):
    with pytest.raises(ValueError, match="decompiled"):
        resolve_template(bad)


def test_template_saved_with_a_model_is_loaded_back(tmp_path):
    save_template(tmp_path, "llm4decompile")
    assert (tmp_path / PROMPT_FILE).exists()
    assert load_template(tmp_path) == TEMPLATES["llm4decompile"]


def test_model_dir_without_template_falls_back_to_default(tmp_path):
    assert load_template(tmp_path) == TEMPLATES[DEFAULT_TEMPLATE]
