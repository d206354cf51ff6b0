"""build-data end to end on a small fixture: real gcc, real Ghidra decompiler (helper venv)."""
import json
import os
import shutil
from pathlib import Path

import pytest

from decomptune.build.builder import BuildOptions, build
from decomptune.build.cli import main
from decomptune.build.extract import extract_functions
from decomptune.build.filters import in_validation, is_trivial
from decomptune.build.normalize import INTERNAL_TYPE_RE

FIXTURES = Path(__file__).parent / "fixtures" / "build"
SMALL = FIXTURES / "small.c"


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """One build over the fixtures, good and bad, at -O0 and -O2 (shared by the tests below)."""
    tmp = tmp_path_factory.mktemp("build")
    src = tmp / "src"
    shutil.copytree(FIXTURES, src)
    os.symlink(tmp / "gone.c", src / "dangling.c")  # listed, but unreadable
    out = tmp / "pairs.jsonl"
    options = BuildOptions(sources=[str(src), str(tmp / "missing_dir")], out=str(out), opts=["O0", "O2"],
                           jobs=2, valid_fraction=0.3, progress=False)
    report = build(options)
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    return options, report, rows


def test_pairs_hold_the_exact_source_and_export_style_pseudo_c(built):
    _, _, rows = built
    sources = {f.name: f.text for f in extract_functions(SMALL.read_bytes())}
    made = {(r["function"], r["opt"]) for r in rows}
    assert {("list_sum", "O0"), ("shout", "O0"), ("mean", "O2"), ("greet", "O2")} <= made
    for row in rows:
        assert row["output"] == sources[row["function"]]
        assert not INTERNAL_TYPE_RE.search(row["instruction"]), row["instruction"]
        assert row["instruction"].startswith(("int ", "long ", "double ", "undefined", "ulong ", "void ", "char "))
        assert f" {row['function']}(" in row["instruction"].splitlines()[0]
        assert row["decompiler"] == "ghidra" and row["decompiler_version"].startswith("flatline ")
        assert row["source_file"] == "src/small.c" and len(row["source_sha256"]) == 64
    shout = next(r["instruction"] for r in rows if r["function"] == "shout" and r["opt"] == "O0")
    assert "strlen(" in shout and "malloc(" in shout and "func_0x" not in shout


def test_bad_inputs_are_counted_and_the_build_goes_on(built):
    _, report, rows = built
    counts = report["counts"]
    assert counts["files_not_compiled"] == 1 and counts["compile_failed"] == 2  # both levels
    assert counts["no_functions"] == 1
    assert counts["not_c_text"] == 1
    assert counts["unreadable_path"] == 2  # the dangling link and the missing directory
    assert counts["trivial_function"] == 2  # always_zero at both levels
    problems = "\n".join(report["problems"])
    for name in ("does_not_compile.c", "no_functions.c", "binary_blob.c", "dangling.c", "missing_dir"):
        assert name in problems
    assert rows and not any(r["function"] == "always_zero" for r in rows)


def test_split_is_by_function_so_no_function_is_in_both(built):
    _, _, rows = built
    split_of = {}
    for row in rows:
        assert split_of.setdefault(row["function"], row["split"]) == row["split"]
    assert {r["split"] for r in rows} <= {"train", "valid"}


def test_interrupted_build_resumes_without_redoing_files(built):
    options, _, rows = built
    state = Path(options.out).with_suffix(".state.jsonl")
    header, *entries = state.read_text().splitlines()
    kept = [e for e in entries if json.loads(e)["source_file"] == "src/small.c"]
    # As if killed while writing the next file's entry: a torn last line.
    state.write_text("\n".join([header, *kept]) + '\n{"source_file": "src/does_not')
    again = build(options)
    assert again["counts"]["files_resumed"] == 1  # small.c came from the state file
    assert again["counts"]["files_not_compiled"] == 1  # the other file was redone
    assert [json.loads(line) for line in Path(options.out).read_text().splitlines()] == rows


def test_exit_status_says_whether_anything_was_produced(tmp_path):
    bad = [str(FIXTURES / "does_not_compile.c"), str(FIXTURES / "binary_blob.c")]
    assert main([*bad, "--out", str(tmp_path / "none.jsonl"), "--opt", "O0", "--no-progress"]) == 1
    out_dir = tmp_path / "split"
    assert main([str(SMALL), "--out", str(out_dir), "--opt", "O0", "--no-progress", "--valid-fraction", "0"]) == 0
    assert (out_dir / "train.jsonl").read_text() and (out_dir / "valid.jsonl").read_text() == ""


def test_extract_finds_definitions_with_exact_text():
    src = b"#ifdef X\nstatic char *f(int a) { return 0; }\n#endif\nint (g)(void)\n{\n  return 1;\n}\nint h(int);\n"
    found = extract_functions(src)
    assert [(f.name, f.line) for f in found] == [("f", 2), ("g", 4)]
    assert found[0].text == "static char *f(int a) { return 0; }"


def test_trivial_and_split_helpers():
    assert is_trivial("int z(void) { /* nothing */ return 0; }")
    assert is_trivial("void v(void)\n{\n}")
    assert not is_trivial("int sq(int x) { return x * x; }")
    assert in_validation("00000000" + "0" * 56, 0.1) and not in_validation("ffffffff" + "0" * 56, 0.1)
