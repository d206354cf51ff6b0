"""Trainer callbacks shared by both training paths: the always-on JSONL metrics log."""
from __future__ import annotations

import json
import time
from pathlib import Path

from transformers import TrainerCallback

METRICS_FILE = "metrics.jsonl"


class JsonlMetricsLogger(TrainerCallback):
    """Appends every logged dict (loss, lr, grad norm, ...) with its step to OUTPUT/metrics.jsonl on rank 0."""

    def __init__(self, output_dir: str):
        self.path = Path(output_dir) / METRICS_FILE
        self.start = time.time()

    def on_log(self, args, state, control, logs=None, **kwargs):
        if not state.is_world_process_zero or not logs:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        row = {"step": state.global_step, "elapsed_s": round(time.time() - self.start, 3), **logs}
        with self.path.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(row) + "\n")


def read_metrics(output_dir: str | Path) -> list[dict]:
    path = Path(output_dir) / METRICS_FILE
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


def step_losses(output_dir: str | Path) -> dict[int, float]:
    """Per-step training loss (needs logging_steps=1 for every step)."""
    return {row["step"]: row["loss"] for row in read_metrics(output_dir) if "loss" in row}
