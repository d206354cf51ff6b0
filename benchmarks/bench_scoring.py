"""Scoring throughput: programs scored per second (compile alone, compile + test, sandboxed
run) on a benchmark file, for a few --jobs values.

    .venv/bin/python benchmarks/bench_scoring.py [BENCHMARK.json] [--jobs 1 2] [--limit N]
"""
from __future__ import annotations

import argparse
import time
from pathlib import Path

from decomptune.eval.benchmark import load_benchmark
from decomptune.eval.score import score_all

DEFAULT = Path(__file__).resolve().parents[2] / "shared/data/humaneval-decompile/decompile-eval-executable-gcc-ghidra.dev.json"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("benchmark", nargs="?", default=str(DEFAULT))
    p.add_argument("--jobs", type=int, nargs="+", default=[1, 2])
    p.add_argument("--limit", type=int, default=80)
    args = p.parse_args()
    tasks = load_benchmark(args.benchmark, limit=args.limit)
    for source in ("c_func", "input_code"):
        predictions = {t.key: getattr(t, source) for t in tasks}
        for jobs in args.jobs:
            start = time.perf_counter()
            rows = score_all(tasks, predictions, jobs=jobs, progress=False)
            elapsed = time.perf_counter() - start
            print(f"{source:>10}  jobs={jobs}  {len(rows)} rows in {elapsed:.1f} s = {len(rows) / elapsed:.1f} rows/s "
                  f"({sum(r.passed for r in rows)} passed)")


if __name__ == "__main__":
    main()
