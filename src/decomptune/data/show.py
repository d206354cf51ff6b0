"""`decomptune data`: run the data pipeline alone and print what it would feed the trainer.

    decomptune data --data_path sample --model_max_length 512 --overlong_policy truncate_prompt_left
"""
from __future__ import annotations

import argparse
import dataclasses
import sys

import numpy as np

from decomptune.config import DataArgs

from .errors import DataError
from .prepare import prepare_dataset


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="decomptune data", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--tokenizer", default=None, help='tokenizer name or path (default: the shipped "tiny")')
    for f in dataclasses.fields(DataArgs):
        if f.type in ("bool", bool):
            parser.add_argument(f"--{f.name}", action="store_true", default=f.default)
        else:
            kind = int if "int" in str(f.type) else str
            parser.add_argument(f"--{f.name}", type=kind, default=f.default)
    return parser


def _lengths_line(ds) -> str:
    lengths = np.array([len(ids) for ids in ds["input_ids"]])
    p50, p90, p99 = np.percentile(lengths, [50, 90, 99]).astype(int)
    return f"  lengths: min {lengths.min()}, median {p50}, p90 {p90}, p99 {p99}, max {lengths.max()}"


def main(argv: list[str]) -> int:
    args = vars(_parser().parse_args(argv))
    from decomptune.tokenizer import load_tokenizer  # after parsing: --help stays fast

    tokenizer = load_tokenizer(args.pop("tokenizer"))
    data_args = DataArgs(**args)
    try:
        for split in ("train", "validation"):
            ds, report = prepare_dataset(data_args, tokenizer, split=split)
            if report is None:
                print(f"data [{split}]: none")
                continue
            print(report.summary())
            print(_lengths_line(ds))
    except DataError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
