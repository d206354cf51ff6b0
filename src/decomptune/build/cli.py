"""``decomptune build-data SRC... --out pairs.jsonl``: C sources to (pseudo-C, source) pairs."""
from __future__ import annotations

import argparse
import json
import logging
import sys

from decomptune.build.builder import BuildOptions, build
from decomptune.build.compile import DEFAULT_CFLAGS, OPT_LEVELS
from decomptune.build.pool import DecompilerUnavailable


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="decomptune build-data",
        description="Compile C files with gcc at each optimisation level, decompile every function "
                    "they define with Ghidra's decompiler, and write (pseudo-C, source) pairs.")
    p.add_argument("sources", nargs="+", metavar="SRC", help="C files or directories (searched for *.c)")
    p.add_argument("--out", required=True,
                   help="a .jsonl file (all rows, with a 'split' column) or a directory (train.jsonl + valid.jsonl)")
    p.add_argument("--opt", nargs="+", default=list(OPT_LEVELS), choices=OPT_LEVELS, help="optimisation levels")
    p.add_argument("--jobs", type=int, default=1, help="files decompiled in parallel")
    p.add_argument("--valid-fraction", type=float, default=0.1,
                   help="share of functions (by a hash of their text) in the validation split")
    p.add_argument("--max-tokens", type=int, default=None, help="drop pairs longer than this (pseudo-C + source)")
    p.add_argument("--tokenizer", default=None, help="tokenizer for --max-tokens (default: the shipped one)")
    p.add_argument("--dedup-levels", action="store_true",
                   help="drop a level's pair when its pseudo-C equals a lower level's for the same function")
    p.add_argument("--include-main", action="store_true", help="also make pairs for main()")
    p.add_argument("--cflags", default=" ".join(DEFAULT_CFLAGS), help="extra gcc flags (default: %(default)s)")
    p.add_argument("--cc", default="gcc", help="C compiler (x86-64 gcc)")
    p.add_argument("--no-progress", action="store_true")
    return p


def main(argv: list[str] | None = None) -> int:
    """Exit status 0 when rows were written, 1 when nothing was produced, 2 for unusable setup."""
    args = parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    if not 0.0 <= args.valid_fraction < 1.0:
        parser().error(f"--valid-fraction must be in [0, 1), got {args.valid_fraction}")
    options = BuildOptions(
        sources=args.sources, out=args.out, opts=args.opt, jobs=args.jobs, valid_fraction=args.valid_fraction,
        max_tokens=args.max_tokens, tokenizer=args.tokenizer, dedup_levels=args.dedup_levels,
        include_main=args.include_main, cflags=args.cflags.split(), cc=args.cc, progress=not args.no_progress)
    try:
        report = build(options)
    except DecompilerUnavailable as exc:
        print(f"build-data: {exc}", file=sys.stderr)
        return 2
    for problem in report["problems"][:20]:
        print(f"build-data: skipped: {problem}", file=sys.stderr)
    if len(report["problems"]) > 20:
        print(f"build-data: … and {len(report['problems']) - 20} more (see the report)", file=sys.stderr)
    print(json.dumps(report["counts"], indent=1))
    print(f"build-data: {report['rows_written']} rows -> {', '.join(report['outputs'])}")
    return 0 if report["rows_written"] else 1


if __name__ == "__main__":
    sys.exit(main())
