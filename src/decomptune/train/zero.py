"""Path 1, pp == 1: HF Trainer + DeepSpeed ZeRO 0-3, CPU offload, and AutoTP (tp x dp)."""
from __future__ import annotations

import logging
import os
from pathlib import Path

import torch
from transformers import PrinterCallback, Trainer, TrainingArguments

from ..config import RunConfig, to_dict
from ..models.loading import load_model
from . import checkpointing as ckpt
from .callbacks import MetricsCallback, TokenMetering

log = logging.getLogger(__name__)


def training_arguments(cfg: RunConfig, ds_config: dict | None) -> TrainingArguments:
    t = cfg.train
    on_gpu = torch.cuda.is_available()
    return TrainingArguments(
        output_dir=t.output_dir,
        num_train_epochs=t.num_train_epochs,
        max_steps=t.max_steps,
        per_device_train_batch_size=t.per_device_train_batch_size,
        gradient_accumulation_steps=t.gradient_accumulation_steps,
        learning_rate=t.learning_rate,
        max_grad_norm=t.max_grad_norm,
        weight_decay=t.weight_decay,
        # transformers 5 removed warmup_ratio: a float < 1 in warmup_steps is the ratio.
        warmup_steps=t.warmup_ratio,
        lr_scheduler_type=t.lr_scheduler_type,
        optim=t.optim,
        logging_steps=t.logging_steps,
        save_strategy=t.save_strategy,
        save_steps=t.save_steps,
        save_total_limit=None,  # CrashSafeTrainer rotates: it never deletes the newest complete checkpoint
        ddp_timeout=t.dist_timeout,
        # Reporting (TensorBoard, W&B, JSONL, CSV) and progress are ours, shared with the
        # pipeline path: see callbacks.MetricsCallback.
        report_to=[],
        bf16=t.bf16 and on_gpu,
        deepspeed=ds_config,
        seed=t.seed,
        # Without use_cpu, accelerate on a CPU-only machine reports world size 1 and
        # DeepSpeed's batch-size assertion fails.
        use_cpu=not on_gpu,
        ddp_backend="gloo" if not on_gpu and int(os.environ.get("WORLD_SIZE", 1)) > 1 else None,
        remove_unused_columns=False,
        # --group_by_length: batches of similar length (reads the "length" column run.py adds).
        train_sampling_strategy="group_by_length" if cfg.data.group_by_length else "random",
        dataloader_drop_last=False,
        disable_tqdm=True,
    )


class CrashSafeTrainer(TokenMetering, Trainer):
    """The HF Trainer, with checkpoints that appear only once complete (see train/checkpointing.py).

    Everything the Trainer saves (DeepSpeed's model/optimizer/scheduler shards, RNG state of
    every rank, trainer_state.json with the step the data loader skips to) goes to a staging
    directory first; rank 0 commits it after every rank has flushed its files.
    """

    def __init__(self, *args, keep_checkpoints: int | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.keep_checkpoints = keep_checkpoints
        self._staging_root: Path | None = None

    def _get_output_dir(self, trial) -> str:
        return str(self._staging_root) if self._staging_root else super()._get_output_dir(trial)

    def _save_checkpoint(self, model, trial) -> None:
        root = Path(super()._get_output_dir(trial))
        step = self.state.global_step
        staged = ckpt.staging_dir(root, ckpt.ZERO.name(step))
        if self.args.should_save:
            ckpt.clear_staging(root)
        self.accelerator.wait_for_everyone()
        self._staging_root = staged.parent
        try:
            with ckpt.writing(staged, root, ckpt.ZERO):
                super()._save_checkpoint(model, trial)
                ckpt.fsync_tree(staged)
        finally:
            self._staging_root = None
        self.accelerator.wait_for_everyone()
        if self.args.should_save:
            ckpt.commit(staged, ckpt.ZERO, root, step)
            ckpt.rotate(root, ckpt.ZERO, self.keep_checkpoints)
        self.accelerator.wait_for_everyone()


def train_zero(cfg: RunConfig, tokenizer, train_dataset, collator, ds_config: dict | None,
               callbacks: list | None = None) -> Trainer:
    """Train and save the final HF model (gathered from ZeRO-3 / TP shards) into output_dir."""
    model = load_model(cfg.model, tokenizer, bf16=cfg.train.bf16, seed=cfg.train.seed)
    args = training_arguments(cfg, ds_config)
    metrics = MetricsCallback(cfg.train.output_dir, cfg.train.report_to, to_dict(cfg))
    trainer = CrashSafeTrainer(
        keep_checkpoints=cfg.train.save_total_limit,
        model=model,
        args=args,
        data_collator=collator,
        train_dataset=train_dataset,
        processing_class=tokenizer,
        callbacks=[metrics, *(callbacks or [])],
        duplicate_factor=cfg.layout.tp,
    )
    trainer.remove_callback(PrinterCallback)  # it prints raw dicts; MetricsCallback prints lines
    for callback in callbacks or []:
        if getattr(callback, "trainer", False) is None:  # EvalCallback: send its metrics through Trainer.log
            callback.trainer = trainer
    trainer.train(resume_from_checkpoint=cfg.train.resume_from_checkpoint)
    trainer.save_model(cfg.train.output_dir)
    trainer.save_state()
    return trainer
