"""`decomptune <command> ...`: each command lives in its own module with main(argv) -> int."""
from __future__ import annotations

import importlib
import sys

COMMANDS = {
    "train": ("decomptune.train.run", "fine-tune a model (ZeRO or pipeline path, chosen from --layout)"),
    "demo": ("decomptune.demo", "the embedded default: tiny model, shipped data, 2 CPU processes"),
    "data": ("decomptune.data.show", "run the data pipeline alone: report and token-length percentiles"),
    "eval": ("decomptune.eval.cli", "score predictions or a model by re-executability (sandboxed)"),
    "decompile": ("decomptune.eval.decompile_cli", "recover C source for one decompiled function"),
    "build-data": ("decomptune.build.cli", "build (Ghidra pseudo-C, source) pairs from C files"),
    "check-config": ("decomptune.parallel.check_cli", "check a DeepSpeed JSON; --fix-config prints a valid one"),
    "plan": ("decomptune.parallel.plan_cli", "rank the layouts that fit your GPUs: memory per GPU, tokens/s"),
    "export": ("decomptune.checkpoint", "consolidate a checkpoint of any layout into one HF model"),
    "launch": ("decomptune.launch", "print or run the torchrun/deepspeed command (or sbatch script) for N nodes"),
    "plot": ("decomptune.plot", "re-render RUN_DIR/loss.png from the run's metrics.jsonl"),
    "push": ("decomptune.publish", "write the model card and upload a model directory to the Hugging Face Hub"),
}


def usage() -> str:
    width = max(map(len, COMMANDS))
    lines = ["usage: decomptune <command> [args...]", "", "commands:"]
    lines += [f"  {name:<{width}}  {text}" for name, (_, text) in COMMANDS.items()]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(usage())
        return 0 if argv else 2
    name, rest = argv[0], argv[1:]
    if name not in COMMANDS:
        print(f"error: unknown command {name!r}\n\n{usage()}", file=sys.stderr)
        return 2
    module = importlib.import_module(COMMANDS[name][0])
    return int(module.main(rest) or 0)


if __name__ == "__main__":
    sys.exit(main())
