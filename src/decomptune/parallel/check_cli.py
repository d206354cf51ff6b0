"""`decomptune check-config ds.json [--fix-config] [--world-size N] [--layout ...]`

Prints every problem in a DeepSpeed JSON (exit 1) or "OK" (exit 0). With --fix-config the
nearest valid config goes to stdout as JSON (so `> fixed.json` works) and the problems and
the notes on what changed go to stderr.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import sys

from decomptune.parallel.ds_config import DeepSpeedConfigError, check_ds_config, read_ds_json
from decomptune.parallel.ds_fix import nearest_valid_config
from decomptune.parallel.layout import Layout, LayoutError, validate


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="decomptune check-config",
                                description="Check a DeepSpeed JSON the way DeepSpeed would really read it.")
    p.add_argument("config", help="path to the DeepSpeed JSON (e.g. ds.json)")
    p.add_argument("--fix-config", action="store_true",
                   help="print the nearest valid config (JSON, stdout) and what changed (stderr)")
    p.add_argument("--world-size", type=int, default=None,
                   help="number of processes the run will have (checks that batch sizes multiply out)")
    p.add_argument("--layout", default=None,
                   help="the run's layout, e.g. tp=2,pp=2,zero=1 (checks the JSON agrees with it)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    # DeepSpeed logs to stdout (from import on); keep stdout for the fixed JSON alone.
    with contextlib.redirect_stdout(sys.stderr):
        import deepspeed  # noqa: F401
    layout = None
    try:
        if args.layout is not None:
            layout = Layout.parse(args.layout, world_size=args.world_size)
            for warning in validate(layout, world_size=args.world_size):
                print(f"warning: {warning}", file=sys.stderr)
        cfg = read_ds_json(args.config)
    except (LayoutError, DeepSpeedConfigError) as err:
        print(err, file=sys.stderr)
        return 1
    try:
        check_ds_config(cfg, layout=layout, world_size=args.world_size, source=args.config)
        problems = None
    except DeepSpeedConfigError as err:
        problems = err
    if not args.fix_config:
        print(problems if problems else f"{args.config}: OK")
        return 1 if problems else 0
    fixed, notes = nearest_valid_config(cfg, layout=layout, world_size=args.world_size)
    json.dump(fixed, sys.stdout, indent=2)
    sys.stdout.write("\n")
    if problems:
        print(problems, file=sys.stderr)
    print("\n".join(["changes:", *(f"- {n}" for n in notes)]) if notes else "no changes needed",
          file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
