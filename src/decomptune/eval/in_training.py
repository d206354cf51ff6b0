"""Re-executability during training: every N steps rank 0 generates for the first K benchmark
rows, scores them (sandboxed) and logs eval/reexec_rate and eval/compile_rate; the other
ranks wait at a barrier with a long timeout so a slow evaluation cannot kill the job."""
from __future__ import annotations

import logging
from datetime import timedelta

import torch
import torch.distributed as dist
from transformers import TrainerCallback

from decomptune.eval.benchmark import load_benchmark
from decomptune.eval.generate import generate_for_tasks
from decomptune.eval.report import summarize
from decomptune.eval.score import ScoreSettings, score_all
from decomptune.prompts import DEFAULT_TEMPLATE, resolve_template

log = logging.getLogger(__name__)


class EvalCallback(TrainerCallback):
    """Add to a Trainer's callbacks. Set `callback.trainer = trainer` to send the metrics
    through Trainer.log (TensorBoard, W&B, ...); otherwise they go into state.log_history."""

    def __init__(self, benchmark: str, every: int, limit: int = 16, prompt: str = DEFAULT_TEMPLATE,
                 max_new_tokens: int = 512, batch_size: int = 4, tokenizer=None,
                 ghidra_header: bool = False, jobs: int | None = None,
                 barrier_timeout: timedelta = timedelta(hours=4)):
        if every < 1 or limit < 1:
            raise ValueError(f"eval_every and eval_limit must be at least 1, got {every} and {limit}")
        self.tasks = load_benchmark(benchmark, limit=limit)
        self.every, self.template = every, resolve_template(prompt)
        self.max_new_tokens, self.batch_size, self.tokenizer = max_new_tokens, batch_size, tokenizer
        self.score_settings, self.jobs = ScoreSettings(ghidra_header=ghidra_header), jobs
        self.barrier_timeout = barrier_timeout
        self.trainer = None
        self.history: list[dict] = []
        self._group = None

    def on_train_begin(self, args, state, control, **kwargs):
        if dist.is_available() and dist.is_initialized() and dist.get_world_size() > 1:
            # A group of its own: the training backend's default timeout (often 10-30 min)
            # would abort ranks waiting on a long evaluation. Every rank creates it here.
            self._group = dist.new_group(backend="gloo", timeout=self.barrier_timeout)

    def on_train_end(self, args, state, control, **kwargs):
        # Tear our group down with the run: left to interpreter exit, gloo's threads can
        # abort the process ("terminate called without an active exception").
        if self._group is not None:
            dist.barrier(group=self._group)
            dist.destroy_process_group(self._group)
            self._group = None

    def on_step_end(self, args, state, control, model=None, processing_class=None, **kwargs):
        if state.global_step == 0 or state.global_step % self.every != 0:
            return
        if state.is_world_process_zero:
            metrics = self.evaluate(model, self.tokenizer or processing_class or kwargs.get("tokenizer"))
            if metrics is not None:
                self._log(state, metrics)
        if self._group is not None:
            dist.barrier(group=self._group)

    def evaluate(self, model, tokenizer) -> dict | None:
        if model is None or tokenizer is None:
            log.warning("EvalCallback: the trainer passed no model or tokenizer; skipping evaluation")
            return None
        if any(hasattr(p, "ds_id") for p in model.parameters()):
            # ZeRO-3 shards every weight: one rank alone cannot run the model.
            log.warning("EvalCallback: not supported with ZeRO stage 3; evaluate the exported model instead")
            return None
        was_training = model.training
        model.eval()
        try:
            with torch.no_grad():
                predictions = generate_for_tasks(model, tokenizer, self.tasks, self.template,
                                                 self.max_new_tokens, self.batch_size, progress=False)
        finally:
            model.train(was_training)
        summary = summarize(score_all(self.tasks, predictions, self.score_settings, self.jobs, progress=False))
        return {"eval/reexec_rate": summary["total"]["reexec_rate"],
                "eval/compile_rate": summary["total"]["compile_rate"],
                "eval/edit_similarity": summary["total"]["edit_similarity"]}

    def _log(self, state, metrics: dict) -> None:
        self.history.append({**metrics, "step": state.global_step})
        if self.trainer is not None:
            self.trainer.log(dict(metrics))
        else:
            state.log_history.append({**metrics, "step": state.global_step})
        log.info("step %d: %s", state.global_step, metrics)
