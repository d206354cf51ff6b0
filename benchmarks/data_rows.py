"""Shared by the data benchmarks: the rows they run on, and the tutorial's per-example path."""
from __future__ import annotations

import json
import tempfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SAMPLE = REPO / "src" / "decomptune" / "assets" / "sample" / "train.jsonl"
HUMANEVAL = REPO.parent / "shared" / "data" / "humaneval-decompile" / "decompile-eval-executable-gcc-ghidra.dev.json"
IGNORE_INDEX = -100


def data_sources() -> dict[str, Path]:
    """name -> a jsonl file with instruction/output columns (HumanEval-Decompile when present)."""
    sources = {"sample": SAMPLE}
    if HUMANEVAL.exists():
        rows = json.loads(HUMANEVAL.read_text())
        path = Path(tempfile.gettempdir()) / "decomptune-bench-humaneval-decompile.jsonl"
        with path.open("w") as fh:
            for r in rows:
                fh.write(json.dumps({"instruction": r["input_asm_prompt"], "output": r["c_func"]}) + "\n")
        sources["humaneval-decompile"] = path
    return sources


def read_rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def tutorial_preprocess(rows: list[dict], tokenizer, template: str, max_length: int) -> list[dict]:
    """The seed tutorial's (Stanford-Alpaca style) preprocessing: one example at a time,
    tokenize prompt+target, tokenize the prompt again to find where to mask, truncate at max_length."""
    out = []
    for row in rows:
        source = template.replace("{}", row["instruction"], 1)
        example = source + row["output"] + tokenizer.eos_token
        ids = tokenizer(example, max_length=max_length, truncation=True)["input_ids"]
        source_len = len(tokenizer(source, max_length=max_length, truncation=True)["input_ids"])
        labels = list(ids)
        labels[:source_len] = [IGNORE_INDEX] * source_len
        out.append({"input_ids": ids, "labels": labels})
    return out
