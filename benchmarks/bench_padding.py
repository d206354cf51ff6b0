"""Padding efficiency: real tokens / computed tokens for the ways a batch can be formed.

On the same tokenized rows (model_max_length 1024, the embedded tokenizer):
- tutorial: random batches padded to the longest row (HF's DataCollatorForSeq2Seq way);
- ours, padded: random batches padded to the longest row rounded up to 8 (DecompileCollator);
- ours, grouped by length: HF's LengthGroupedSampler (--group_by_length), padded as above;
- ours, packed: pack_dataset rows of 1024 tokens (--packing), PackedCollator, random batches.
Batch sizes 4 and 16. Prints a table, writes benchmarks/results/padding.json.
"""
from __future__ import annotations

import json
import logging
import sys
from pathlib import Path

import datasets
import torch

from data_rows import data_sources

RESULTS = Path(__file__).resolve().parent / "results"
MAX_LENGTH = 1024
SEED = 0


def ratio(lengths_per_batch: list[list[int]], multiple: int, row_width: int | None = None) -> float:
    real = computed = 0
    for lengths in lengths_per_batch:
        width = row_width or -(-max(lengths) // multiple) * multiple
        real += sum(lengths)
        computed += width * len(lengths)
    return real / computed


def batches(order: list[int], size: int) -> list[list[int]]:
    return [order[i:i + size] for i in range(0, len(order), size)]


def main() -> int:
    from transformers.trainer_pt_utils import LengthGroupedSampler

    from decomptune.config import DataArgs
    from decomptune.data import prepare_dataset
    from decomptune.data.packing import example_lengths, pack_dataset
    from decomptune.tokenizer import load_tokenizer

    logging.disable(logging.INFO)
    datasets.disable_progress_bars()
    tokenizer = load_tokenizer(None)
    out = []
    for name, path in data_sources().items():
        args = DataArgs(data_path=str(path), model_max_length=MAX_LENGTH, overlong_policy="truncate_prompt_left")
        ds, _ = prepare_dataset(args, tokenizer)
        lengths = example_lengths(ds).tolist()
        packed_lengths = example_lengths(pack_dataset(ds, MAX_LENGTH, seed=SEED)).tolist()
        for size in (4, 16):
            g = torch.Generator().manual_seed(SEED)
            random_order = torch.randperm(len(lengths), generator=g).tolist()
            grouped_order = list(LengthGroupedSampler(size, lengths=lengths, generator=torch.Generator().manual_seed(SEED)))
            packed_order = torch.randperm(len(packed_lengths), generator=g).tolist()
            take = lambda order, ls: [[ls[i] for i in b] for b in batches(order, size)]  # noqa: E731
            row = {
                "data": name, "rows": len(lengths), "batch": size,
                "tutorial_random": ratio(take(random_order, lengths), 1),
                "ours_random_pad8": ratio(take(random_order, lengths), 8),
                "ours_group_by_length": ratio(take(grouped_order, lengths), 8),
                "ours_packed": ratio(take(packed_order, packed_lengths), 8),
                "packed_rows": len(packed_lengths),
            }
            out.append({k: round(v, 4) if isinstance(v, float) else v for k, v in row.items()})
    cols = ["tutorial_random", "ours_random_pad8", "ours_group_by_length", "ours_packed"]
    print("useful / computed tokens (1.0 = no padding)")
    print(f"{'data':<22} {'rows':>5} {'batch':>5} " + " ".join(f"{c:>21}" for c in cols))
    for r in out:
        print(f"{r['data']:<22} {r['rows']:>5} {r['batch']:>5} " + " ".join(f"{r[c]:>21.3f}" for c in cols))
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "padding.json").write_text(json.dumps({"max_length": MAX_LENGTH, "rows": out}, indent=1))
    print(f"wrote {RESULTS / 'padding.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
