"""Crash-safe checkpoints and exact resume on the ZeRO path (HF Trainer + DeepSpeed ZeRO-1),
with real processes: a rank killed with SIGKILL mid-save and at a random step, a full disk
during a save, and a frozen rank.
"""
from __future__ import annotations

import os
import re
import subprocess
import time

import pytest

from decomptune.train import checkpointing
from reliability import SAMPLE_TRAIN, complete_steps, crash_twice_then_finish, error_line, train

STEPS, SAVE_EVERY = 8, 2
# The shipped training pairs, as one file: the run reads exactly these rows.
COMMON = ["--data_path", str(SAMPLE_TRAIN), "--model_max_length", "256", "--max_steps", str(STEPS),
          "--save_steps", str(SAVE_EVERY), "--save_total_limit", "2", "--per_device_train_batch_size", "4",
          "--learning_rate", "1e-3", "--lr_scheduler_type", "linear", "--logging_steps", "1", "--seed", "7"]
TWO_RANKS = [*COMMON, "--nproc_per_node", "2", "--layout", "zero=1"]


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_zero_killed_twice_then_resumed_ends_bitwise_equal(tmp_path):
    r = crash_twice_then_finish(TWO_RANKS, tmp_path, checkpointing.ZERO, STEPS, SAVE_EVERY)
    print(f"FAULT TABLE | SIGKILL rank {r['victims'][0]} in save @{r['kill_in_save']}, then rank {r['victims'][1]} "
          f"@{r['kill_at']} | zero=1 dp=2 "
          f"| resumed from {r['resumed_from']}, finished | max weight diff {r['max_weight_diff']:.3g} "
          f"(bitwise {r['bitwise']})")
    assert r["bitwise"], f"resumed weights differ from the uninterrupted run by up to {r['max_weight_diff']}"


def small_tmpfs(path, size: str) -> bool:
    path.mkdir()
    if os.geteuid() != 0:
        return False
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(path)], capture_output=True)
    return done.returncode == 0


@pytest.mark.timeout(300)
def test_disk_full_during_save_keeps_previous_checkpoint(tmp_path):
    disk = tmp_path / "disk"
    # One checkpoint of the tiny model (weights + AdamW state) is ~22 MB: the second cannot fit.
    mounted = small_tmpfs(disk, "34m")
    out = disk / "run"
    argv = [*COMMON, "--max_steps", "4", "--use_deepspeed", "false", "--output_dir", str(out)]
    try:
        # Where no tmpfs can be mounted (not root), writes of the step-4 save fail with ENOSPC instead.
        done = train(argv, fault=None if mounted else "enospc:0:4")
        assert done.returncode != 0
        verdict = error_line(done)
        print(f"FAULT TABLE | disk full during save @4 ({'tmpfs 34 MiB' if mounted else 'injected ENOSPC'}) "
              f"| 1 process | {verdict}")
        assert "disk full while saving checkpoint checkpoint-4" in verdict, verdict
        assert f"{out / 'checkpoint-2'} is intact" in verdict and "--resume auto" in verdict
        assert "Traceback" not in done.stderr, done.stderr[-4000:]
        assert complete_steps(out) == [2]
        assert checkpointing.check_complete(out / "checkpoint-2") is None
        assert not list((out / checkpointing.STAGING).glob("*")), "the partial save is removed"
        assert (out / "latest_checkpoint").read_text().strip() == "checkpoint-2"
    finally:
        if mounted:
            subprocess.run(["umount", str(disk)], check=False)


@pytest.mark.slow
@pytest.mark.timeout(300)
def test_frozen_rank_stops_the_run_in_bounded_time_naming_it(tmp_path):
    timeout = 8
    argv = [*TWO_RANKS, "--max_steps", "6", "--save_strategy", "no", "--dead_rank_timeout", str(timeout),
            "--output_dir", str(tmp_path / "out")]
    done = train(argv, fault="freeze:1:2")  # SIGSTOP: sockets stay open, gloo alone would wait 30 min
    ended = time.time()
    assert done.returncode != 0
    assert "error: rank 1 (" in done.stderr and f"has not responded for {timeout} s" in done.stderr, \
        done.log[-4000:]
    frozen_at = float(re.search(r"FAULT: rank 1 freeze after step 2 at ([\d.]+)", done.stderr).group(1))
    verdict = error_line(done)
    print(f"FAULT TABLE | rank 1 frozen (SIGSTOP) @2 | zero=1 dp=2 | run ended {ended - frozen_at:.0f} s after "
          f"the freeze | {verdict}")
    assert "rank 1" in verdict
    # The heartbeat timeout, then torchrun's 30 s grace before it SIGKILLs a rank that ignores SIGTERM.
    assert ended - frozen_at < timeout + 30 + 20
