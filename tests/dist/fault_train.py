"""`decomptune train` with a fault injected into one rank (tests/test_reliability_*.py).

Run as the parent (no RANK in the environment) it is the product's own entry point, with
the spawned ranks running this script instead of `-m decomptune.train`. In a rank it
installs the fault that DECOMPTUNE_TEST_FAULT names, then runs the product's main:

  kill:R:S          rank R sends itself SIGKILL right after optimizer step S
  kill_in_save:R:S  rank R sends itself SIGKILL while saving the checkpoint of step S,
                    after its files are written and before the checkpoint is committed
  freeze:R:S        rank R stops (SIGSTOP) after step S: alive, sockets open, silent
  enospc:R:S        rank R's writes fail with ENOSPC during the save of step S (for machines
                    where the test cannot mount a small tmpfs)
"""
from __future__ import annotations

import errno
import os
import signal
import sys
import time


def fault() -> tuple[str, int, int] | None:
    spec = os.environ.get("DECOMPTUNE_TEST_FAULT")
    if not spec:
        return None
    kind, rank, step = spec.split(":")
    return kind, int(rank), int(step)


def hit(kind: str, sig=signal.SIGKILL) -> None:
    print(f"FAULT: rank {os.environ.get('RANK', 0)} {kind} at {time.time():.3f}", file=sys.stderr, flush=True)
    os.kill(os.getpid(), sig)


def install(kind: str, step: int) -> None:
    from decomptune.train import checkpointing, run

    if kind in ("kill", "freeze"):
        sig = signal.SIGKILL if kind == "kill" else signal.SIGSTOP
        from transformers import TrainerCallback

        class AtStep(TrainerCallback):  # ZeRO path: after the optimizer step, before any save
            def on_step_end(self, args, state, control, **kwargs):
                if state.global_step == step:
                    hit(f"{kind} after step {step}", sig)

        plain = run.extra_callbacks
        run.extra_callbacks = lambda cfg: [*plain(cfg), AtStep()]

        from deepspeed.runtime.pipe.engine import PipelineEngine

        train_batch = PipelineEngine.train_batch

        def train_batch_then_fault(self, *args, **kwargs):  # pipeline path
            loss = train_batch(self, *args, **kwargs)
            if self.global_steps == step:
                hit(f"{kind} after step {step}", sig)
            return loss

        PipelineEngine.train_batch = train_batch_then_fault
    elif kind == "kill_in_save":
        fsync_tree = checkpointing.fsync_tree

        def fsync_then_die(path):
            if path.name.endswith(f"-{step}"):
                hit(f"killed while saving {path}")
            fsync_tree(path)

        checkpointing.fsync_tree = fsync_then_die
    elif kind == "enospc":
        import torch

        save = torch.save

        def save_on_full_disk(obj, f, *args, **kwargs):
            if isinstance(f, (str, os.PathLike)) and f"-{step}" in str(f):
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(f))
            return save(obj, f, *args, **kwargs)

        torch.save = save_on_full_disk
    else:
        raise SystemExit(f"unknown fault {kind!r}")


def main() -> int:
    from decomptune.train import run

    if run.launched_by_launcher():
        spec = fault()
        if spec and spec[1] == int(os.environ["RANK"]):
            install(spec[0], spec[2])
    else:
        run.CHILD_ENTRY = [os.path.abspath(__file__)]
        spec = fault()
        if spec and os.environ.get("WORLD_SIZE") is None and spec[1] == 0 and "--nproc_per_node" not in sys.argv:
            install(spec[0], spec[2])  # a single-process run: the parent is rank 0
    return run.main(sys.argv[1:])


if __name__ == "__main__":
    sys.exit(main())
