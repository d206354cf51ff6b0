"""Helpers for the fault tests: run `decomptune train` (through tests/dist/fault_train.py) with a
fault injected, and read what a run left behind."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import torch
from safetensors.torch import load_file

from decomptune.train import checkpointing
from distributed import REPO, child_env

FAULT_TRAIN = REPO / "tests" / "dist" / "fault_train.py"
SAMPLE_TRAIN = REPO / "src" / "decomptune" / "assets" / "sample" / "train.jsonl"


def train(argv: list[str], fault: str | None = None, timeout: int = 600) -> subprocess.CompletedProcess:
    env = child_env()
    env.pop("DECOMPTUNE_TEST_FAULT", None)
    if fault:
        env["DECOMPTUNE_TEST_FAULT"] = fault
    done = subprocess.run([sys.executable, str(FAULT_TRAIN), *argv], cwd=REPO, env=env,
                          capture_output=True, text=True, timeout=timeout)
    done.log = done.stdout + done.stderr
    return done


def expect_ok(done: subprocess.CompletedProcess) -> None:
    errors = "\n".join(line for line in done.log.splitlines() if "error" in line.lower())
    assert done.returncode == 0, f"run failed ({done.returncode}):\n{errors[-3000:]}\n{done.log[-4000:]}"


def error_line(done: subprocess.CompletedProcess) -> str:
    """The launcher's one-line verdict (the last `error:` line)."""
    lines = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert lines, f"no error message (rc {done.returncode}):\n{done.log[-6000:]}"
    return lines[-1]


def complete_steps(root: Path, scheme=checkpointing.ZERO) -> list[int]:
    return [f.step for f in checkpointing.scan(root, scheme) if f.problem is None]


def weight_diff(a: Path, b: Path) -> tuple[float, bool]:
    """(max |a - b| over all tensors, bitwise equal) of two saved HF models."""
    wa, wb = load_file(a / "model.safetensors"), load_file(b / "model.safetensors")
    assert wa.keys() == wb.keys()
    diff = max(float((wa[k].double() - wb[k].double()).abs().max()) for k in wa)
    return diff, all(torch.equal(wa[k], wb[k]) for k in wa)


def crash_twice_then_finish(argv: list[str], tmp: Path, scheme, steps: int, save_every: int,
                            victims: tuple[int, int] = (1, 0)) -> dict:
    """The uninterrupted run, then the same run killed (SIGKILL) in the middle of saving step 2 x
    save_every, resumed with --resume auto and killed at a random later step, resumed again to
    the end. Asserts what each stage must leave behind; returns the figures for the report."""
    import random

    ref, out = tmp / "uninterrupted", tmp / "faulted"
    expect_ok(train([*argv, "--output_dir", str(ref)]))
    ref_root, root = scheme.root(ref), scheme.root(out)
    assert complete_steps(ref_root, scheme) == [steps - save_every, steps], "save_total_limit=2 keeps two"

    # 1. A rank dies while saving, after writing its files, before the commit.
    in_save = 2 * save_every
    crash = train([*argv, "--output_dir", str(out)], fault=f"kill_in_save:{victims[0]}:{in_save}")
    assert crash.returncode != 0
    verdict = error_line(crash)
    assert f"rank {victims[0]}" in verdict and "SIGKILL" in verdict and "--resume auto" in verdict, verdict
    assert "Traceback" not in crash.stderr, crash.stderr[-4000:]
    assert complete_steps(root, scheme) == [save_every]
    assert (root / checkpointing.STAGING / scheme.name(in_save)).is_dir(), "the half-written save is left"
    assert (root / scheme.latest).read_text().strip() == scheme.name(save_every)

    # 2. Resume: the half-written save is reported and ignored; another rank dies at a random step.
    # Random, as a preemption is; DECOMPTUNE_TEST_KILL_AT replays a given step.
    kill_at = int(os.environ.get("DECOMPTUNE_TEST_KILL_AT") or random.randint(in_save + 1, steps - 1))
    print(f"killing rank {victims[1]} after step {kill_at} (DECOMPTUNE_TEST_KILL_AT={kill_at} replays this)")
    crash = train([*argv, "--output_dir", str(out), "--resume", "auto"], fault=f"kill:{victims[1]}:{kill_at}")
    assert crash.returncode != 0 and f"rank {victims[1]}" in error_line(crash), crash.log[-4000:]
    assert f"{scheme.name(in_save)}: half-written" in crash.log
    assert f"resuming from {root / scheme.name(save_every)}" in crash.log
    newest = (kill_at - 1) // save_every * save_every  # the fault strikes before that step's save
    assert complete_steps(root, scheme)[-1] == newest

    # 3. Resume again and finish.
    done = train([*argv, "--output_dir", str(out), "--resume", "auto"])
    expect_ok(done)
    assert f"resuming from {root / scheme.name(newest)}" in done.log
    assert complete_steps(root, scheme) == [steps - save_every, steps]
    assert not (root / checkpointing.STAGING).exists(), "a completed save clears what the crash left"
    diff, bitwise = weight_diff(ref, out)
    return {"victims": victims, "kill_in_save": in_save, "kill_at": kill_at, "resumed_from": [save_every, newest],
            "max_weight_diff": diff, "bitwise": bitwise}
