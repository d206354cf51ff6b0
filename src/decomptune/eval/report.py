"""Summaries of scored rows: per-level table, totals and settings, as report.json,
report.md, reexec.png (ours next to reference rows) and rows.jsonl (every row, with why)."""
from __future__ import annotations

import json
from collections import defaultdict
from pathlib import Path

from decomptune.eval.benchmark import LEVELS
from decomptune.eval.score import RowResult

# Re-executability (%) of other systems, for the chart and table. "published" is the
# LLM4Decompile paper's row on the full 164-task set; the others were measured with this
# harness (gcc 12.2, x86-64): the full set by hand (raw Ghidra twice, identically: one O0 task
# fewer than the paper; the original sources score 100% at every level), the dev half as
# tests/test_eval_benchmark_rows.py asserts.
REFERENCE_ROWS = [
    {"name": "Ghidra alone (published, full set)", "O0": 34.76, "O1": 16.46, "O2": 15.24, "O3": 14.02},
    {"name": "Ghidra alone (this harness, full set)", "O0": 34.15, "O1": 16.46, "O2": 15.24, "O3": 14.02},
    {"name": "Ghidra + header (this harness, full set)", "O0": 79.88, "O1": 65.85, "O2": 62.20, "O3": 57.93},
    {"name": "Ghidra alone (this harness, dev half)", "O0": 39.02, "O1": 24.39, "O2": 23.17, "O3": 20.73},
    {"name": "Ghidra + header (this harness, dev half)", "O0": 78.05, "O1": 69.51, "O2": 68.29, "O3": 57.32},
]


def _rates(rows: list[RowResult], count_tests: bool = False) -> dict:
    n = len(rows)
    # Rows without a test (pairs benchmarks) can compile but never pass: re-executability is
    # over the rows that have a test, compile rate and similarity over all rows.
    tested = sum(r.tested for r in rows)
    rates = {
        "rows": n,
        "reexec_rate": round(100 * sum(r.passed for r in rows) / tested, 2) if tested else 0.0,
        "compile_rate": round(100 * sum(r.compiled for r in rows) / n, 2) if n else 0.0,
        "edit_similarity": round(100 * sum(r.edit_similarity for r in rows) / n, 2) if n else 0.0,
    }
    if count_tests:
        rates["with_tests"] = tested
    return rates


def summarize(rows: list[RowResult], count_tests: bool | None = None) -> dict:
    """Per level and in total; 'average' is the mean over levels, as the paper reports it.
    count_tests (default: when some row has no test) adds each level's rows with a test."""
    if count_tests is None:
        count_tests = not all(r.tested for r in rows)
    by_level: dict[str, list[RowResult]] = defaultdict(list)
    for row in rows:
        by_level[row.type].append(row)
    levels = {level: _rates(by_level[level], count_tests) for level in LEVELS if by_level[level]}
    average = {key: round(sum(v[key] for v in levels.values()) / len(levels), 2) if levels else 0.0
               for key in ("reexec_rate", "compile_rate", "edit_similarity")}
    return {"levels": levels, "total": _rates(rows, count_tests), "average": average}


def _markdown(summary: dict, settings: dict) -> str:
    a, t = summary["average"], summary["total"]
    if "with_tests" in t:
        head = ["| level | rows | rows with tests | re-executable % (of rows with tests) | compiles % "
                "| edit similarity % |", "|---|---:|---:|---:|---:|---:|"]
        cells = lambda v: f"{v['rows']} | {v['with_tests']}"  # noqa: E731
    else:
        head = ["| level | rows | re-executable % | compiles % | edit similarity % |", "|---|---:|---:|---:|---:|"]
        cells = lambda v: f"{v['rows']}"  # noqa: E731
    lines = ["# Re-executability report", "", *head]
    for level, v in summary["levels"].items():
        lines.append(f"| {level} | {cells(v)} | {v['reexec_rate']:.2f} | {v['compile_rate']:.2f} | "
                     f"{v['edit_similarity']:.2f} |")
    lines.append(f"| **average** | {cells(t)} | {a['reexec_rate']:.2f} | {a['compile_rate']:.2f} | "
                 f"{a['edit_similarity']:.2f} |")
    if "with_tests" in t:
        lines += ["", f"{t['rows'] - t['with_tests']} of {t['rows']} rows have no test and are scored on "
                  "compile rate only."]
    lines += ["", "## Reference rows (re-executable %)", "", "| system | " + " | ".join(LEVELS) + " |",
              "|---|" + "---:|" * len(LEVELS)]
    for ref in REFERENCE_ROWS:
        lines.append(f"| {ref['name']} | " + " | ".join(f"{ref[lv]:.2f}" for lv in LEVELS) + " |")
    lines += ["", "## Settings", "", *(f"- {key}: `{value}`" for key, value in settings.items()), ""]
    return "\n".join(lines)


def _chart(summary: dict, path: Path, label: str) -> None:
    import matplotlib

    matplotlib.use("Agg")  # files only; never needs a display
    import matplotlib.pyplot as plt

    series = [(label, [summary["levels"].get(lv, {}).get("reexec_rate", 0.0) for lv in LEVELS])]
    series += [(ref["name"], [ref[lv] for lv in LEVELS]) for ref in REFERENCE_ROWS]
    width = 0.8 / len(series)
    fig, ax = plt.subplots(figsize=(8, 4.5))
    for i, (name, values) in enumerate(series):
        xs = [x + (i - (len(series) - 1) / 2) * width for x in range(len(LEVELS))]
        ax.bar(xs, values, width, label=name)
    ax.set_xticks(range(len(LEVELS)), LEVELS)
    ax.set_ylabel("re-executable %")
    ax.set_ylim(0, 100)
    ax.set_title("Re-executability per optimisation level")
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)


def write_report(rows: list[RowResult], out_dir: str | Path, settings: dict, label: str = "this run") -> dict:
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    summary = summarize(rows, count_tests=settings.get("benchmark_kind") == "pairs" or None)
    report = {**summary, "settings": settings, "references": REFERENCE_ROWS}
    (out / "report.json").write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
    (out / "report.md").write_text(_markdown(summary, settings), encoding="utf-8")
    with open(out / "rows.jsonl", "w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row.to_json()) + "\n")
    _chart(summary, out / "reexec.png", label)
    return report
