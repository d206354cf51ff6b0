"""Preprocessing throughput: decomptune's data pipeline vs the seed tutorial's per-example path,
same rows, same tokenizer (the embedded BPE tokenizer), no dataset cache.

Ours: prepare_dataset (load ▶ validate ▶ batched tokenization of prompt and target apart ▶
exact masks ▶ report). The tutorial's: one example at a time, prompt+target tokenized, then the
prompt tokenized again to find the mask boundary. Prints a table, writes
benchmarks/results/preprocess.json.
"""
from __future__ import annotations

import json
import logging
import os
import sys
import time
from pathlib import Path

# Batched calls let the Rust tokenizer use every core; `make` turns that off for tests.
# The tutorial's one-example calls cannot use it either way.
os.environ["TOKENIZERS_PARALLELISM"] = "true"

import datasets  # noqa: E402

from data_rows import data_sources, read_rows, tutorial_preprocess  # noqa: E402

RESULTS = Path(__file__).resolve().parent / "results"
MAX_LENGTH = 1024
REPEATS = 3


def best_of(fn, repeats: int = REPEATS) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> int:
    from decomptune.config import DataArgs
    from decomptune.data import prepare_dataset
    from decomptune.prompts import TEMPLATES
    from decomptune.tokenizer import load_tokenizer

    logging.disable(logging.INFO)
    datasets.disable_caching()
    datasets.disable_progress_bars()
    tokenizer = load_tokenizer(None)
    rows_out = []
    for name, path in data_sources().items():
        rows = read_rows(path)
        args = DataArgs(data_path=str(path), model_max_length=MAX_LENGTH, overlong_policy="truncate_prompt_left")
        ours = best_of(lambda: prepare_dataset(args, tokenizer))
        theirs = best_of(lambda: tutorial_preprocess(rows, tokenizer, TEMPLATES["decompiled"], MAX_LENGTH))
        rows_out.append({"data": name, "rows": len(rows), "ours_s": round(ours, 3), "tutorial_s": round(theirs, 3),
                         "ours_rows_per_s": round(len(rows) / ours, 1),
                         "tutorial_rows_per_s": round(len(rows) / theirs, 1), "speedup": round(theirs / ours, 2)})
    print(f"{'data':<22} {'rows':>6} {'ours rows/s':>12} {'tutorial rows/s':>16} {'speedup':>8}")
    for r in rows_out:
        print(f"{r['data']:<22} {r['rows']:>6} {r['ours_rows_per_s']:>12.0f} {r['tutorial_rows_per_s']:>16.0f} "
              f"{r['speedup']:>7.2f}x")
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "preprocess.json").write_text(json.dumps({"max_length": MAX_LENGTH, "tokenizer": "embedded BPE (4096)",
                                                         "best_of": REPEATS, "rows": rows_out}, indent=1))
    print(f"wrote {RESULTS / 'preprocess.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
