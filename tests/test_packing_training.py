"""Packed training through the real entry point: one process, ZeRO-2 on 2 ranks and the
pipeline (pp=2) give the same per-step losses on the same packed rows."""
from __future__ import annotations

import json

import pytest

from distributed import run_python

COMMON = ["-m", "decomptune.cli", "train", "--data_path", "sample", "--max_rows", "48", "--model_max_length", "1024",
          "--packing", "--max_steps", "3", "--logging_steps", "1", "--save_strategy", "no", "--seed", "7",
          "--learning_rate", "1e-3", "--lr_scheduler_type", "linear"]


def losses(out_dir) -> list[float]:
    rows = [json.loads(line) for line in (out_dir / "metrics.jsonl").read_text().splitlines()]
    return [r["loss"] for r in rows if "loss" in r and "train_loss" not in r]


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    out = tmp_path_factory.mktemp("packed-ref")
    run_python([*COMMON, "--use_deepspeed", "false", "--per_device_train_batch_size", "2", "--output_dir", str(out)])
    return losses(out)


@pytest.mark.slow
@pytest.mark.parametrize("layout", ["zero=2", "pp=2,zero=1"])
def test_packed_training_matches_one_process(reference, tmp_path, layout):
    # Global batch 2 packed rows per step in every case: 2 ranks x 1 (ZeRO), or 1 replica x 1 x 2 micro-batches (pipeline).
    extra = ["--gradient_accumulation_steps", "2"] if layout.startswith("pp") else []
    run_python([*COMMON, "--layout", layout, "--nproc_per_node", "2", "--per_device_train_batch_size", "1",
                *extra, "--output_dir", str(tmp_path)])
    got = losses(tmp_path)
    assert len(got) == len(reference) == 3
    assert max(abs(a - b) for a, b in zip(got, reference)) < 1e-5, (got, reference)
    assert got[-1] < got[0]
