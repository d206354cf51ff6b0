"""`decomptune eval`: score a predictions file, or generate predictions with a model and
score them. Writes predictions.jsonl (model mode), rows.jsonl, report.{md,json}, reexec.png."""
from __future__ import annotations

import argparse
import dataclasses
import logging
import subprocess
import sys
from pathlib import Path

from decomptune.errors import UserError, report_user_error
from decomptune.eval.benchmark import load_predictions
from decomptune.eval.pairs_benchmark import load_any_benchmark
from decomptune.eval.report import write_report
from decomptune.eval.sandbox import Limits, namespaces_available
from decomptune.eval.score import ScoreSettings, default_jobs, score_all
from decomptune.prompts import load_template, resolve_template


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="decomptune eval", description=__doc__)
    p.add_argument("--benchmark", required=True,
                   help="HumanEval-Decompile JSON (list) or JSON lines; a pairs file (instruction/output "
                        "rows, as build-data writes); or 'sample' for the bundled sample's validation split")
    p.add_argument("--harness", default=None,
                   help="pairs benchmarks: test harness JSON lines (default: the bundled corpus harness; "
                        "see decomptune.eval.harness)")
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--predictions", help="JSON lines {task_id, type, prediction} to score")
    source.add_argument("--model", help="a saved model directory: generate predictions, then score")
    p.add_argument("--out", required=True, help="output directory for the report")
    p.add_argument("--ghidra-header", action="store_true",
                   help="prepend Ghidra's typedefs/macros (for scoring decompiler output as-is)")
    p.add_argument("--jobs", type=int, default=None, help="rows scored at once (default: 2 per core)")
    p.add_argument("--limit", type=int, default=None, help="only the first K benchmark rows")
    p.add_argument("--timeout", type=float, default=10.0, help="seconds per program run (default 10)")
    gen = p.add_argument_group("generation (with --model)")
    gen.add_argument("--prompt", default=None,
                     help="template name or literal (default: the one stored in the model directory)")
    gen.add_argument("--max-new-tokens", type=int, default=512)
    gen.add_argument("--batch-size", type=int, default=4)
    gen.add_argument("--tokenizer", default=None, help="default: the model directory's own")
    p.add_argument("--debug", action="store_true", help="show tracebacks")
    return p


def _gcc_version() -> str:
    try:
        return subprocess.run(["gcc", "--version"], capture_output=True, text=True).stdout.splitlines()[0]
    except (OSError, IndexError):
        raise UserError("gcc not found: install gcc (e.g. apt-get install gcc) to score predictions") from None


def run(args: argparse.Namespace) -> dict:
    if args.limit is not None and args.limit < 1:
        raise UserError(f"--limit must be at least 1, got {args.limit}")
    benchmark, facts = load_any_benchmark(args.benchmark, args.harness, args.limit)
    tasks = benchmark[:args.limit]
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    settings = {"benchmark": str(args.benchmark), "rows": len(tasks), "ghidra_header": args.ghidra_header,
                "jobs": args.jobs or default_jobs(), "compiler": _gcc_version(),
                "sandbox_namespaces": namespaces_available(), **facts}
    if args.model:
        from decomptune.eval.generate import GenerationSettings, generate_predictions

        gen = GenerationSettings(prompt=args.prompt, max_new_tokens=args.max_new_tokens,
                                 batch_size=args.batch_size, tokenizer=args.tokenizer)
        predictions_path = generate_predictions(args.model, tasks, out / "predictions.jsonl", gen)
        settings.update(model=str(args.model), **{f"generation_{k}": v for k, v in dataclasses.asdict(gen).items()})
        settings["prompt_template"] = resolve_template(args.prompt) if args.prompt else load_template(args.model)
        label = Path(args.model).name or "model"
    else:
        predictions_path = Path(args.predictions)
        settings["predictions"] = str(predictions_path)
        label = predictions_path.stem
    predictions = load_predictions(predictions_path, benchmark, required=tasks)
    limits = Limits(wall_s=args.timeout, cpu_s=max(1, int(args.timeout)))
    settings["limits"] = dataclasses.asdict(limits)
    rows = score_all(tasks, predictions, ScoreSettings(ghidra_header=args.ghidra_header, limits=limits),
                     jobs=args.jobs)
    return write_report(rows, out, settings, label=label)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    try:
        report = run(args)
    except UserError as exc:
        return report_user_error(exc, args.debug)
    levels = "  ".join(f"{lv} {v['reexec_rate']:.2f}%" for lv, v in report["levels"].items())
    print(f"re-executability: {levels}  average {report['average']['reexec_rate']:.2f}% "
          f"(compiles {report['average']['compile_rate']:.2f}%) -> {Path(args.out) / 'report.md'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
