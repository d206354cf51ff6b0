"""Path 1, pp == 1: HF Trainer + DeepSpeed ZeRO 0-3, CPU offload, and AutoTP (tp x dp)."""
from __future__ import annotations

import logging
import os

import torch
from transformers import Trainer, TrainingArguments

from ..config import RunConfig
from ..models.loading import load_model
from .callbacks import JsonlMetricsLogger

log = logging.getLogger(__name__)


def training_arguments(cfg: RunConfig, ds_config: dict | None) -> TrainingArguments:
    t = cfg.train
    on_gpu = torch.cuda.is_available()
    report_to = [] if t.report_to in ("none", "", None) else [r.strip() for r in t.report_to.split(",")]
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
        save_total_limit=t.save_total_limit,
        report_to=report_to,
        bf16=t.bf16 and on_gpu,
        deepspeed=ds_config,
        seed=t.seed,
        # Without use_cpu, accelerate on a CPU-only machine reports world size 1 and
        # DeepSpeed's batch-size assertion fails.
        use_cpu=not on_gpu,
        ddp_backend="gloo" if not on_gpu and int(os.environ.get("WORLD_SIZE", 1)) > 1 else None,
        remove_unused_columns=False,
        dataloader_drop_last=False,
        disable_tqdm=False,
    )


def train_zero(cfg: RunConfig, tokenizer, train_dataset, collator, ds_config: dict | None,
               callbacks: list | None = None) -> Trainer:
    """Train and save the final HF model (gathered from ZeRO-3 / TP shards) into output_dir."""
    model = load_model(cfg.model, tokenizer, bf16=cfg.train.bf16, seed=cfg.train.seed)
    args = training_arguments(cfg, ds_config)
    trainer = Trainer(
        model=model,
        args=args,
        data_collator=collator,
        train_dataset=train_dataset,
        processing_class=tokenizer,
        callbacks=[JsonlMetricsLogger(cfg.train.output_dir), *(callbacks or [])],
    )
    trainer.train(resume_from_checkpoint=cfg.train.resume_from_checkpoint)
    trainer.save_model(cfg.train.output_dir)
    trainer.save_state()
    return trainer
