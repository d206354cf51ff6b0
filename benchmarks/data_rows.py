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
    """The seed tutorial's preprocessing (Stanford Alpaca's `preprocess` / `_tokenize_fn`, which
    its train.py copies): every string is its own tokenizer call returning a padded PyTorch
    tensor; the prompt+target of each example is tokenized, then the prompt again to find where
    the mask ends; labels are a copy with the prompt part set to -100."""
    import copy

    sources = [template.replace("{}", row["instruction"], 1) for row in rows]
    examples = [s + row["output"] + tokenizer.eos_token for s, row in zip(sources, rows)]

    def tokenize_fn(strings):
        tokenized = [tokenizer(text, return_tensors="pt", padding="longest", max_length=max_length, truncation=True)
                     for text in strings]
        input_ids = [t.input_ids[0] for t in tokenized]
        lens = [t.input_ids.ne(tokenizer.pad_token_id).sum().item() for t in tokenized]
        return input_ids, lens

    input_ids, _ = tokenize_fn(examples)
    _, source_lens = tokenize_fn(sources)
    labels = copy.deepcopy(input_ids)
    for label, source_len in zip(labels, source_lens):
        label[:source_len] = IGNORE_INDEX
    return [{"input_ids": i, "labels": lab} for i, lab in zip(input_ids, labels)]
