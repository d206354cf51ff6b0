"""Crash-safe checkpoints and exact resume on the pipeline path (DeepSpeed PipelineModule with
tensor parallelism inside the stages, ZeRO-1), with real processes: a rank killed with SIGKILL
mid-save and another at a random step. pp=2 x tp=2 covers what pp=2 alone would (same code,
plus TP shards per stage), so it is the one layout run here."""
from __future__ import annotations

import pytest

from decomptune.train import checkpointing
from reliability import SAMPLE_TRAIN, crash_twice_then_finish

STEPS, SAVE_EVERY = 8, 2
# The shipped training pairs, as one file: the run reads exactly these rows.
COMMON = ["--data_path", str(SAMPLE_TRAIN), "--model_max_length", "256", "--max_steps", str(STEPS),
          "--save_steps", str(SAVE_EVERY), "--save_total_limit", "2", "--per_device_train_batch_size", "4",
          "--learning_rate", "1e-3", "--lr_scheduler_type", "linear", "--logging_steps", "1", "--seed", "7"]


def report(layout: str, r: dict) -> None:
    print(f"FAULT TABLE | SIGKILL rank {r['victims'][0]} in save @{r['kill_in_save']}, then rank {r['victims'][1]} "
          f"@{r['kill_at']} | {layout} "
          f"| resumed from {r['resumed_from']}, finished | max weight diff {r['max_weight_diff']:.3g} "
          f"(bitwise {r['bitwise']})")


@pytest.mark.slow
@pytest.mark.timeout(1200)
def test_pipeline_pp2_tp2_killed_twice_then_resumed_ends_bitwise_equal(tmp_path):
    # Rank 3 (second stage, second TP shard) dies in the save; rank 1 (first stage, second TP shard) at a random step.
    argv = [*COMMON, "--nproc_per_node", "4", "--layout", "pp=2,tp=2,zero=1"]
    r = crash_twice_then_finish(argv, tmp_path, checkpointing.PIPELINE, STEPS, SAVE_EVERY, victims=(3, 1))
    report("pp=2 x tp=2 (zero=1)", r)
    assert r["bitwise"], f"resumed weights differ from the uninterrupted run by up to {r['max_weight_diff']}"
