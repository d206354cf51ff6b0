"""Named prompt templates. A model must be evaluated with the template it was trained on,
so training stores the template text in the saved model directory (see PROMPT_FILE)."""
from __future__ import annotations

from pathlib import Path

TEMPLATES: dict[str, str] = {
    # The seed tutorial's template: Ghidra pseudo-C in, C source out.
    "decompiled": "# This is the decompiled code:\n{}\n# What is the source code?\n",
    # What released LLM4Decompile models expect (they say "assembly" even for Ghidra input).
    "llm4decompile": "# This is the assembly code:\n{}\n# What is the source code?\n",
}
DEFAULT_TEMPLATE = "decompiled"
PROMPT_FILE = "decomptune_prompt.txt"


def resolve_template(name_or_text: str) -> str:
    """A template name from TEMPLATES, or a literal template containing one '{}'."""
    if name_or_text in TEMPLATES:
        return TEMPLATES[name_or_text]
    if name_or_text.count("{}") == 1:
        return name_or_text
    raise ValueError(
        f"unknown prompt template {name_or_text!r}: use one of {sorted(TEMPLATES)} "
        "or a literal template with exactly one '{}' where the decompiled code goes"
    )


def render_prompt(template: str, code: str) -> str:
    # str.replace, not str.format: C code is full of braces.
    return resolve_template(template).replace("{}", code, 1)


def save_template(model_dir: str | Path, template: str) -> None:
    Path(model_dir, PROMPT_FILE).write_text(resolve_template(template), encoding="utf-8")


def load_template(model_dir: str | Path, default: str = DEFAULT_TEMPLATE) -> str:
    path = Path(model_dir, PROMPT_FILE)
    return path.read_text(encoding="utf-8") if path.exists() else resolve_template(default)
