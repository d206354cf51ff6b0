"""Throughput of build-data: functions decompiled per second, gcc included.

    .venv/bin/python benchmarks/bench_build.py SRC... [--opt O0] [--jobs 2]

Defaults to the shipped corpus at -O0 on 2 workers (target: >= 50 functions/s on 2 cores).
For gcc's torture suite (GPL: measure only, never ship its rows):
    cd /tmp && apt-get download gcc-12-source && dpkg-deb -x gcc-12-source_*.deb gcc12 \
      && tar -xf gcc12/usr/src/gcc-12/gcc-12*.tar.* --wildcards '*/gcc.c-torture/execute/*'
    .venv/bin/python benchmarks/bench_build.py /tmp/gcc-*/gcc/testsuite/gcc.c-torture/execute --opt O0 O2
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

from decomptune.build.builder import BuildOptions, build

ROOT = Path(__file__).resolve().parents[1]


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("sources", nargs="*", default=[str(ROOT / "corpus" / "handwritten"), str(ROOT / "corpus" / "generated")])
    p.add_argument("--opt", nargs="+", default=["O0"])
    p.add_argument("--jobs", type=int, default=2)
    args = p.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        options = BuildOptions(sources=args.sources, out=f"{tmp}/pairs.jsonl", opts=args.opt, jobs=args.jobs,
                               valid_fraction=0.0, progress=False)
        start = time.perf_counter()
        report = build(options)
        seconds = time.perf_counter() - start
    counts = report["counts"]
    decompiled = counts.get("pairs_decompiled", 0)
    result = {"opts": args.opt, "jobs": args.jobs, "files": counts.get("files_seen", 0),
              "functions_decompiled": decompiled, "seconds": round(seconds, 2),
              "functions_per_second": round(decompiled / seconds, 1), "counts": counts}
    print(json.dumps(result, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
