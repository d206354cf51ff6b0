"""Test harness for pairs built from our corpus: per function, the declarations it needs
(its "context") and, where one is written, a test `main` with asserts (exit 0 = pass).

Where the pieces come from (see corpus/tests/README.md):
- tests: `corpus/tests/<dir>/<file>.c` tests `corpus/<dir>/<file>.c`; each `/* test: NAME */`
  line starts one function's `main`, and the text before the first marker (includes, helpers)
  is shared by every test of the file. `corpus/tests/families/<family>.c` holds the tests of a
  generated family, written with `T`/`NAME_` and filled in per type by corpus/generate.py's
  own `render`, so every generated file of the family is tested.
- context: the source file with every function definition replaced by its prototype and the
  scored function's own prototype left out (a prediction may type its parameters differently,
  and a conflicting prototype would fail it for the wrong reason). So the prediction compiles
  against the file's includes, structs, typedefs, globals and sibling prototypes.
- the test program also gets the definitions of the siblings that the function or its test
  call (transitively), after the prediction, so it links.

The bundled harness (assets/sample/harness.jsonl) stores one row per corpus file: its path,
sha256, full text and rendered tests; contexts are derived when scoring. Rebuild it with
`python -m decomptune.eval.harness corpus --out src/decomptune/assets/sample/harness.jsonl`.
"""
from __future__ import annotations

import argparse
import hashlib
import importlib.util
import json
import re
import sys
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from decomptune.build.extract import _declared_name, _parser
from decomptune.errors import UserError

BUNDLED_HARNESS = Path(__file__).resolve().parent.parent / "assets" / "sample" / "harness.jsonl"
TEST_MARKER = re.compile(r"^/\* test: (\w+) \*/[ \t]*$", re.MULTILINE)
IDENTIFIER = re.compile(r"\b[A-Za-z_]\w*\b")


def split_tests(text: str, where: str) -> dict[str, str]:
    """{function: shared preamble + its test} from a test file's text."""
    marks = list(TEST_MARKER.finditer(text))
    if not marks:
        raise UserError(f"{where}: no '/* test: FUNCTION */' markers; start each test main with one")
    preamble = text[:marks[0].start()]
    tests: dict[str, str] = {}
    for mark, after in zip(marks, marks[1:] + [None]):
        name = mark.group(1)
        if name in tests:
            raise UserError(f"{where}: two tests for {name}; keep one")
        body = text[mark.start():after.start() if after else len(text)]
        if "main" not in body:
            raise UserError(f"{where}: the test for {name} has no main(); write one that exits 0 on pass")
        tests[name] = preamble + body
    return tests


@dataclass(frozen=True)
class _Definition:
    name: str
    start: int  # byte range of the whole definition
    end: int
    prototype: str  # the definition's text up to its body, plus ';'
    text: str


@dataclass(frozen=True)
class HarnessFile:
    source_file: str  # as the pairs name it, e.g. "generated/arrays_int.c"
    source_sha256: str
    source: str
    tests: dict[str, str]

    @cached_property
    def _definitions(self) -> dict[str, _Definition]:
        data = self.source.encode("utf-8")
        found = {}
        for node in _parser().parse(data).root_node.children:
            if node.type != "function_definition":
                continue
            name = _declared_name(node.child_by_field_name("declarator"))
            body = node.child_by_field_name("body")
            if name and body is not None:
                head = data[node.start_byte:body.start_byte].decode("utf-8").rstrip()
                found[name] = _Definition(name, node.start_byte, node.end_byte, head + ";",
                                          node.text.decode("utf-8"))
        return found

    def context(self, function: str) -> str:
        """The file without function bodies and without `function`'s own prototype."""
        data = self.source.encode("utf-8")
        pieces, at = [], 0
        for definition in sorted(self._definitions.values(), key=lambda d: d.start):
            pieces.append(data[at:definition.start].decode("utf-8"))
            if definition.name != function:
                pieces.append(definition.prototype)
            at = definition.end
        pieces.append(data[at:].decode("utf-8"))
        return "".join(pieces).strip() + "\n"

    def siblings(self, function: str, texts: list[str]) -> str:
        """Definitions of the file's other functions that `texts` call, transitively."""
        defs = self._definitions
        wanted: list[str] = []
        todo = list(texts)
        while todo:
            for name in IDENTIFIER.findall(todo.pop()):
                if name in defs and name != function and name not in wanted:
                    wanted.append(name)
                    todo.append(defs[name].text)
        return "\n\n".join(defs[name].text for name in sorted(wanted, key=lambda n: defs[n].start))

    def test_program(self, function: str) -> str:
        """Test source for `function` (appended after the prediction), or "" if none is written."""
        test = self.tests.get(function)
        if test is None:
            return ""
        reference = self._definitions[function].text if function in self._definitions else ""
        helpers = self.siblings(function, [reference, test])
        return (helpers + "\n\n" if helpers else "") + test

    def to_json(self) -> dict:
        return {"source_file": self.source_file, "source_sha256": self.source_sha256,
                "source": self.source, "tests": self.tests}


def load_harness(path: str | Path = BUNDLED_HARNESS) -> dict[str, HarnessFile]:
    path = Path(path)
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise UserError(f"{path}: cannot read the test harness ({exc.strerror})") from None
    files = {}
    for number, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            files[row["source_file"]] = HarnessFile(row["source_file"], row["source_sha256"], row["source"],
                                                    dict(row["tests"]))
        except (json.JSONDecodeError, KeyError, TypeError):
            raise UserError(f"{path}:{number}: not a harness row {{source_file, source_sha256, source, tests}}; "
                            "rebuild it with `python -m decomptune.eval.harness corpus --out PATH`") from None
    return files


def _family_tests(corpus: Path) -> dict[str, str]:
    """{generated/<file>.c: rendered test text} for every family with a test template."""
    generator = corpus / "generate.py"
    spec = importlib.util.spec_from_file_location("decomptune_corpus_generate", generator)
    if spec is None or spec.loader is None or not generator.exists():
        raise UserError(f"{generator}: missing; the family tests are rendered with its render()")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    rendered = {}
    for template in sorted((corpus / "tests" / "families").glob("*.c")):
        family = template.stem
        if family not in module.FAMILIES:
            raise UserError(f"{template}: no family {family!r} in {generator} "
                            f"(families: {', '.join(module.FAMILIES)})")
        for type_name in module.FAMILIES[family][1]:
            name, text = module.render(family, template.read_text(encoding="utf-8"), type_name)
            rendered[f"generated/{name}"] = text
    return rendered


def build_harness(corpus: str | Path) -> list[HarnessFile]:
    """One HarnessFile per C file under corpus/{handwritten,generated}, with its tests."""
    corpus = Path(corpus)
    test_texts = _family_tests(corpus)
    for path in sorted((corpus / "tests").glob("*/*.c")):
        if path.parent.name != "families":
            test_texts[f"{path.parent.name}/{path.name}"] = path.read_text(encoding="utf-8")
    files = []
    for path in sorted(p for d in ("handwritten", "generated") for p in (corpus / d).glob("*.c")):
        name = f"{path.parent.name}/{path.name}"
        data = path.read_bytes()
        tests = split_tests(test_texts.pop(name), f"tests for {name}") if name in test_texts else {}
        entry = HarnessFile(name, hashlib.sha256(data).hexdigest(), data.decode("utf-8"), tests)
        unknown = sorted(set(tests) - set(entry._definitions))
        if unknown:
            raise UserError(f"tests for {name}: no function {', '.join(unknown)} in {path}; fix the marker")
        files.append(entry)
    if test_texts:
        raise UserError(f"tests for files not in {corpus}: {', '.join(sorted(test_texts))}")
    return files


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(prog="python -m decomptune.eval.harness", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("corpus", help="the corpus directory (with handwritten/, generated/, tests/, generate.py)")
    p.add_argument("--out", default=str(BUNDLED_HARNESS), help="harness JSON lines (default: the bundled one)")
    args = p.parse_args(argv)
    try:
        files = build_harness(args.corpus)
    except UserError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    with open(args.out, "w", encoding="utf-8") as f:
        for entry in files:
            f.write(json.dumps(entry.to_json(), sort_keys=True) + "\n")
    tested = sum(len(e.tests) for e in files)
    print(f"harness: {len(files)} files, {tested} functions with tests -> {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
