"""Benchmark rows from (pseudo-C, source) pairs, such as the bundled sample's validation split.

Each pairs row {instruction, output, opt, function, source_file, source_sha256, ...} becomes a
Task: input = instruction, reference = output, level = opt. task_id numbers the distinct
(source_file, function) in file order, so a predictions file keys rows as for HumanEval-
Decompile. The harness (harness.py) adds the function's context and, where one is written,
its test: rows with a test are scored by re-executability, the others on compile rate only.
A harness file whose sha256 differs from the row's source is not used (it describes other code).
"""
from __future__ import annotations

import logging
from collections import Counter
from pathlib import Path

from decomptune.errors import UserError
from decomptune.eval.benchmark import LEVELS, Task, _json_lines, _read_text, load_benchmark
from decomptune.eval.harness import BUNDLED_HARNESS, HarnessFile, load_harness

log = logging.getLogger(__name__)

SAMPLE_VALID = BUNDLED_HARNESS.parent / "valid.jsonl"
PAIR_FIELDS = ("instruction", "output", "opt", "function", "source_file")
# For rows whose file the harness does not know: the usual libc headers, so a function using
# size_t or strlen can still compile on its own (its own structs stay unknown).
FALLBACK_CONTEXT = "\n".join(f"#include <{h}.h>" for h in
                             ("stddef", "stdint", "stdbool", "stdio", "stdlib", "string", "ctype", "math"))


def is_pairs_file(path: str | Path) -> bool:
    """Whether the first row looks like a pairs row (instruction/output) rather than a task."""
    text = _read_text(Path(path))
    if text.lstrip().startswith("["):
        return False
    rows = _json_lines(Path(path), text)
    return bool(rows) and isinstance(rows[0][1], dict) and {"instruction", "output"} <= rows[0][1].keys()


def load_pairs_benchmark(path: str | Path, harness: dict[str, HarnessFile]) -> tuple[list[Task], dict]:
    """(tasks, counts): counts say how many rows have a test and a context, per level."""
    path = Path(path)
    ids: dict[tuple[str, str], int] = {}
    tasks: list[Task] = []
    seen: set[tuple[int, str]] = set()
    counts: Counter = Counter()
    stale: set[str] = set()
    for number, row in _json_lines(path, _read_text(path)):
        where = f"{path}:{number}"
        if not isinstance(row, dict):
            raise UserError(f"{where}: expected a JSON object, got {type(row).__name__}")
        missing = [f for f in PAIR_FIELDS if not isinstance(row.get(f), str)]
        if missing:
            raise UserError(f"{where}: missing or non-string {', '.join(missing)} "
                            f"(each pairs row needs {', '.join(PAIR_FIELDS)}; see `decomptune build-data`)")
        if row["opt"] not in LEVELS:
            raise UserError(f"{where}: opt {row['opt']!r} is not one of {', '.join(LEVELS)}")
        key = (row["source_file"], row["function"])
        task_id = ids.setdefault(key, len(ids))
        if (task_id, row["opt"]) in seen:
            raise UserError(f"{where}: a second {row['opt']} row for {key[1]} in {key[0]}; keep one per level")
        seen.add((task_id, row["opt"]))
        entry = harness.get(row["source_file"])
        if entry is not None and row.get("source_sha256") not in (None, entry.source_sha256):
            stale.add(row["source_file"])
            entry = None
        test = entry.test_program(row["function"]) if entry is not None else ""
        context = entry.context(row["function"]) if entry is not None else FALLBACK_CONTEXT
        counts[f"{row['opt']}_rows"] += 1
        counts[f"{row['opt']}_with_test"] += bool(test)
        counts["with_context"] += entry is not None
        tasks.append(Task(task_id, row["opt"], row["output"], test, row["instruction"], context=context,
                          name=f"{row['source_file']}:{row['function']}"))
    if not tasks:
        raise UserError(f"{path}: no pairs rows")
    if stale:
        log.warning("%d source files changed since the harness was built (no test or context used for "
                    "them): %s; rebuild it with `python -m decomptune.eval.harness corpus`",
                    len(stale), ", ".join(sorted(stale)[:5]))
    counts["stale_files"] = len(stale)
    return tasks, dict(counts)


def load_any_benchmark(spec: str, harness_path: str | Path | None = None,
                       limit: int | None = None) -> tuple[list[Task], dict]:
    """`spec` = "sample" (the bundled validation split), a pairs file, or a HumanEval-Decompile
    file. Returns (tasks, facts for the report's settings)."""
    path = SAMPLE_VALID if spec == "sample" else Path(spec)
    if not is_pairs_file(path):
        if harness_path is not None:
            raise UserError("--harness applies to pairs benchmarks (instruction/output rows) only")
        return load_benchmark(path), {"benchmark_kind": "humaneval-decompile"}
    harness_path = Path(harness_path) if harness_path is not None else BUNDLED_HARNESS
    tasks, counts = load_pairs_benchmark(path, load_harness(harness_path))
    shown = tasks[:limit]
    per_level = {lv: sum(1 for t in shown if t.level == lv and t.c_test) for lv in LEVELS}
    facts = {"benchmark_kind": "pairs", "benchmark_file": str(path), "harness": str(harness_path),
             "rows_with_tests": sum(per_level.values()), "rows_with_tests_per_level": per_level,
             "rows_with_context": sum(1 for t in shown if t.context != FALLBACK_CONTEXT),
             "harness_stale_files": counts["stale_files"]}
    return tasks, facts

