#!/usr/bin/env python
"""Write the PLACEHOLDER sample pairs shipped in src/decomptune/assets/sample/.

(Ghidra pseudo-C, C source) pairs taken from HumanEval-Decompile (MIT), split by task so
that no function is in both files. They stand in until the dataset builder ships real
pairs from our own C corpus; they overlap the evaluation benchmark, so a model trained
on them must never be used to report scores.

    .venv/bin/python scripts/make_placeholder_sample.py
"""
from __future__ import annotations

import argparse
import json
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DEFAULT_SOURCE = REPO.parent / "shared/data/humaneval-decompile/decompile-eval-executable-gcc-ghidra.dev.json"
DEFAULT_OUT = REPO / "src/decomptune/assets/sample"
# Every 10th task goes to validation: deterministic, ~10%, and whole tasks (all opt levels) at once.
VALIDATION_EVERY = 10


def to_pair(record: dict) -> dict:
    return {
        "instruction": record["input_asm_prompt"],  # what the model reads: Ghidra's pseudo-C
        "output": record["c_func"],  # what it must write: the original source
        "opt": record["type"],
        "task_id": int(record["task_id"]),
    }


def write_jsonl(path: Path, rows: list[dict]) -> None:
    with path.open("w", encoding="utf-8") as f:
        for row in rows:
            f.write(json.dumps(row, ensure_ascii=False) + "\n")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--source", type=Path, default=DEFAULT_SOURCE)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)

    records = json.loads(args.source.read_text(encoding="utf-8"))
    pairs = sorted((to_pair(r) for r in records), key=lambda p: (p["task_id"], p["opt"]))
    valid = [p for p in pairs if p["task_id"] % VALIDATION_EVERY == 0]
    train = [p for p in pairs if p["task_id"] % VALIDATION_EVERY != 0]
    args.out.mkdir(parents=True, exist_ok=True)
    write_jsonl(args.out / "train.jsonl", train)
    write_jsonl(args.out / "valid.jsonl", valid)
    print(f"{len(train)} train / {len(valid)} validation pairs -> {args.out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
