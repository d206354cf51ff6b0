"""Preprocessing throughput: decomptune's data pipeline vs the seed tutorial's per-example path,
same rows, same tokenizer (the embedded BPE tokenizer), no dataset cache.

Ours: batched tokenization of prompt and target apart with exact masks (tokenize_rows), and
the whole prepare_dataset (load ▶ validate ▶ tokenize ▶ count ▶ report) from the file. The
tutorial's: one example at a time, prompt+target tokenized, then the prompt tokenized again to
find the mask boundary. Best of 5. Prints a table, writes benchmarks/results/preprocess.json.
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
REPEATS = 5


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
    from decomptune.data.tokenize import tokenize_rows
    from decomptune.prompts import TEMPLATES
    from decomptune.tokenizer import load_tokenizer

    logging.disable(logging.INFO)
    datasets.disable_caching()
    datasets.disable_progress_bars()
    tokenizer = load_tokenizer(None)
    rows_out = []
    for name, path in data_sources().items():
        rows = read_rows(path)
        in_memory = datasets.Dataset.from_list(rows).select_columns(["instruction", "output"])
        args = DataArgs(data_path=str(path), model_max_length=MAX_LENGTH, overlong_policy="truncate_prompt_left")
        # Tokenizing and masking alone (rows already in memory, as the tutorial's loop gets them) ...
        ours_tok = best_of(lambda: tokenize_rows(in_memory, tokenizer, template="decompiled", input_column="instruction",
                                                 output_column="output", max_length=MAX_LENGTH,
                                                 policy="truncate_prompt_left"))
        # ... and the whole pipeline from the file (load, validate, tokenize, count, report).
        ours_full = best_of(lambda: prepare_dataset(args, tokenizer))
        theirs = best_of(lambda: tutorial_preprocess(rows, tokenizer, TEMPLATES["decompiled"], MAX_LENGTH))
        rows_out.append({"data": name, "rows": len(rows), "ours_tokenize_s": round(ours_tok, 3),
                         "ours_pipeline_s": round(ours_full, 3), "tutorial_s": round(theirs, 3),
                         "speedup_tokenize": round(theirs / ours_tok, 2), "speedup_pipeline": round(theirs / ours_full, 2)})
    print(f"{'data':<22} {'rows':>6} {'tutorial rows/s':>16} {'ours tokenize rows/s':>21} {'ours pipeline rows/s':>21} "
          f"{'speedup tok':>12} {'speedup all':>12}")
    for r in rows_out:
        print(f"{r['data']:<22} {r['rows']:>6} {r['rows'] / r['tutorial_s']:>16.0f} {r['rows'] / r['ours_tokenize_s']:>21.0f} "
              f"{r['rows'] / r['ours_pipeline_s']:>21.0f} {r['speedup_tokenize']:>11.2f}x {r['speedup_pipeline']:>11.2f}x")
    RESULTS.mkdir(parents=True, exist_ok=True)
    (RESULTS / "preprocess.json").write_text(json.dumps({"max_length": MAX_LENGTH, "tokenizer": "embedded BPE (4096)",
                                                         "best_of": REPEATS, "cpus": os.cpu_count(),
                                                         "rows": rows_out}, indent=1))
    print(f"wrote {RESULTS / 'preprocess.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
