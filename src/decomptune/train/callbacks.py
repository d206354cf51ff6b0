"""The ZeRO path's reporting: a Trainer that meters tokens, and the callback that sends
every Trainer log (training and in-training eval) to MetricSinks and the progress display."""
from __future__ import annotations

import torch
import torch.distributed as dist
from transformers import TrainerCallback

from .progress import TrainProgress
from .reporting import MetricSinks, StepMeter, batch_token_counts


class TokenMetering:
    """Mix into a Trainer subclass (before Trainer): adds tokens/s, useful-token ratio and
    memory to every training log.

    duplicate_factor: how many ranks train on the same batch (tensor parallelism), so
    tokens are counted once per data-parallel replica."""

    def __init__(self, *args, duplicate_factor: int = 1, **kwargs):
        super().__init__(*args, **kwargs)
        self.meter = StepMeter()
        self.duplicate_factor = duplicate_factor

    def training_step(self, model, inputs, num_items_in_batch=None):
        self.meter.add(*batch_token_counts(inputs))
        return super().training_step(model, inputs, num_items_in_batch)

    def log(self, logs: dict, start_time: float | None = None) -> None:
        if "loss" in logs:  # a training log: every rank is here (HF just gathered the loss)
            counts = torch.tensor(self.meter.local_counts(), dtype=torch.long, device=self.args.device)
            if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
                dist.all_reduce(counts)
            logs.update(self.meter.interval([int(c) // self.duplicate_factor for c in counts.tolist()]))
        super().log(logs, start_time)


class MetricsCallback(TrainerCallback):
    """Rank 0: metrics.jsonl / metrics.csv / TensorBoard / W&B, and the progress bar or lines."""

    def __init__(self, output_dir: str, report_to: str | None = None, run_config: dict | None = None):
        self.output_dir, self.report_to, self.run_config = output_dir, report_to, run_config
        self.sinks: MetricSinks | None = None
        self.progress: TrainProgress | None = None

    def on_train_begin(self, args, state, control, **kwargs):
        if state.is_world_process_zero:
            # On resume the Trainer has restored global_step before this call.
            self.sinks = MetricSinks(self.output_dir, self.report_to, self.run_config, first_step=state.global_step)
            self.progress = TrainProgress(state.max_steps, state.global_step)

    def on_step_end(self, args, state, control, **kwargs):
        if self.progress is not None:
            self.progress.update(state.global_step)

    def on_log(self, args, state, control, logs=None, **kwargs):
        if self.sinks is None or not logs:
            return
        self.sinks.log(state.global_step, logs)
        if "loss" in logs:
            self.progress.show(logs)
        elif any(k.startswith("eval") for k in logs):
            shown = ", ".join(f"{k} {v:.4g}" for k, v in logs.items() if isinstance(v, float))
            self.progress.note(f"step {state.global_step}: {shown}")

    def on_train_end(self, args, state, control, **kwargs):
        if self.progress is not None:
            self.progress.close()
        if self.sinks is not None:
            self.sinks.close()

