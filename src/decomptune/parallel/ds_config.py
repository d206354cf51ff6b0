"""The DeepSpeed config: built from a Layout and the training arguments, or read from a
user's JSON and checked (the checks live in ds_check.py).
"""
from __future__ import annotations

import copy
import json
import math
from pathlib import Path
from typing import Any

from decomptune.config import LayoutArgs, TrainArgs
from decomptune.parallel.ds_check import DeepSpeedConfigError, _offloaded, _section, check_ds_config
from decomptune.parallel.layout import Layout, Problem

# HF TrainingArguments defaults; TrainArgs does not expose them.
ADAM_BETAS = (0.9, 0.999)
ADAM_EPS = 1e-8


def batch_world(layout: Layout, world_size: int) -> int:
    """The process count W in DeepSpeed's train_batch_size = micro * grad_accum * W."""
    return layout.dp if layout.pp > 1 else world_size


def _zero_section(layout: Layout, pin_memory: bool) -> dict:
    zero: dict[str, Any] = {"stage": layout.zero_stage}
    if layout.offload_optimizer and layout.zero_stage >= 1:
        zero["offload_optimizer"] = {"device": "cpu", "pin_memory": pin_memory}
    if layout.zero_stage == 3:
        if layout.offload_param:
            zero["offload_param"] = {"device": "cpu", "pin_memory": pin_memory}
    if layout.zero_stage == 3 or layout.tp > 1:
        # save_model() then writes full weights (gathered from ZeRO-3 / AutoTP shards),
        # not this rank's shard. DeepSpeed reads this one key for both cases.
        zero["stage3_gather_16bit_weights_on_model_save"] = True
    return zero


def _default_pin_memory() -> bool:
    import torch

    return torch.cuda.is_available()  # pinned host memory only helps (and only works) with a GPU


def _base_config(layout: Layout, train_args: TrainArgs, world_size: int, accumulation: int,
                 pin_memory: bool | None) -> dict[str, Any]:
    """What both paths' configs share: batch arithmetic, clipping, precision, ZeRO section."""
    pin = _default_pin_memory() if pin_memory is None else pin_memory
    micro = train_args.per_device_train_batch_size
    return {
        "train_micro_batch_size_per_gpu": micro,
        "gradient_accumulation_steps": accumulation,
        "train_batch_size": micro * accumulation * batch_world(layout, world_size),
        "gradient_clipping": train_args.max_grad_norm,
        "bf16": {"enabled": bool(train_args.bf16)},
        "zero_optimization": _zero_section(layout, pin),
        "steps_per_print": max(1, train_args.logging_steps),
        "wall_clock_breakdown": False,
    }


def build_ds_config(layout: Layout, train_args: TrainArgs, world_size: int,
                    pin_memory: bool | None = None) -> dict:
    """The DeepSpeed config for the ZeRO path (HF Trainer, pp == 1), AutoTP when tp > 1."""
    if layout.pp > 1:
        raise ValueError(f"layout {layout} is a pipeline layout: use build_pipeline_ds_config")
    cfg = _base_config(layout, train_args, world_size, train_args.gradient_accumulation_steps, pin_memory)
    if layout.offload_optimizer:
        # ZeRO-Offload refuses the Trainer's torch AdamW (it wants DeepSpeedCPUAdam), so name the
        # optimizer here; the Trainer fills the "auto" values and still builds the LR schedule
        # from --lr_scheduler_type because no "scheduler" section is given.
        cfg["optimizer"] = {"type": "AdamW", "params": {
            "lr": "auto", "betas": "auto", "eps": "auto", "weight_decay": "auto"}}
    if layout.autotp:
        cfg["tensor_parallel"] = {"autotp_size": layout.tp}
        if layout.zero_stage == 3:
            # The engine counts W = every process, ZeRO-3's partitioning W = processes / tp:
            # no train_batch_size passes both checks, so let DeepSpeed derive it.
            del cfg["train_batch_size"]
    return cfg


def _scheduler(train_args: TrainArgs, total_steps: int) -> dict:
    warmup = max(1, math.ceil(train_args.warmup_ratio * total_steps))  # DeepSpeed refuses 0
    lr, kind = train_args.learning_rate, train_args.lr_scheduler_type
    if kind == "cosine":
        return {"type": "WarmupCosineLR", "params": {
            "total_num_steps": total_steps, "warmup_num_steps": warmup, "warmup_type": "linear",
            "warmup_min_ratio": 0.0, "cos_min_ratio": 0.0}}
    if kind == "linear":
        return {"type": "WarmupDecayLR", "params": {
            "total_num_steps": total_steps, "warmup_num_steps": warmup, "warmup_type": "linear",
            "warmup_min_lr": 0.0, "warmup_max_lr": lr}}
    if kind in ("constant", "constant_with_warmup"):
        return {"type": "WarmupLR", "params": {
            "warmup_num_steps": warmup if kind == "constant_with_warmup" else 1, "warmup_type": "linear",
            "warmup_min_lr": lr if kind == "constant" else 0.0, "warmup_max_lr": lr}}
    raise ValueError(f"lr_scheduler_type={kind!r} has no DeepSpeed equivalent on the pipeline path; "
                     f"use cosine, linear, constant or constant_with_warmup")


def build_pipeline_ds_config(layout: Layout, train_args: TrainArgs, world_size: int,
                             total_steps: int, with_optimizer: bool = True,
                             pin_memory: bool | None = None, torch_adam: bool | None = None) -> dict:
    """The DeepSpeed config for the pipeline path (pp > 1). No HF Trainer fills "auto" here, so
    every value is explicit. with_optimizer=False leaves optimizer and scheduler to the caller
    (DeepSpeed refuses a config optimizer next to a client one).

    torch_adam (default: when there is no GPU and no optimizer offload): DeepSpeed's "AdamW"
    is then torch.optim.AdamW. Otherwise it JIT-compiles its FusedAdam op, which on a CPU-only
    machine costs minutes and holds a build lock other runs wait on.
    """
    if layout.pp == 1:
        raise ValueError(f"layout {layout} has no pipeline: use build_ds_config")
    micro_batches = layout.micro_batches or train_args.gradient_accumulation_steps
    cfg = _base_config(layout, train_args, world_size, micro_batches, pin_memory)
    if with_optimizer:
        cfg["optimizer"] = {"type": "AdamW", "params": {
            "lr": train_args.learning_rate, "betas": list(ADAM_BETAS), "eps": ADAM_EPS,
            "weight_decay": train_args.weight_decay}}
        if torch_adam if torch_adam is not None else not (_default_pin_memory() or layout.offload_optimizer):
            cfg["optimizer"]["params"]["torch_adam"] = True
        cfg["scheduler"] = _scheduler(train_args, total_steps)
    return cfg


# ---------------------------------------------------------------- loading


def read_ds_json(path: str | Path) -> dict:
    path = Path(path)
    if not path.is_file():
        raise DeepSpeedConfigError(str(path), [Problem(
            "no such file" if not path.exists() else "not a file",
            "pass --deepspeed PATH to an existing DeepSpeed JSON, or leave --deepspeed out and decomptune "
            "builds the config from --layout")])

    def no_duplicates(pairs):  # DeepSpeed refuses duplicate keys too; json would keep the last
        seen = {}
        for key, value in pairs:
            if key in seen:
                raise ValueError(f"key '{key}' appears twice")
            seen[key] = value
        return seen

    try:
        return json.loads(path.read_text(encoding="utf-8"), object_pairs_hook=no_duplicates)
    except json.JSONDecodeError as err:
        raise DeepSpeedConfigError(str(path), [Problem(
            f"not valid JSON at line {err.lineno}, column {err.colno}: {err.msg}",
            "fix the JSON (no comments, no trailing commas, strings in double quotes)")]) from None
    except (ValueError, UnicodeDecodeError) as err:
        raise DeepSpeedConfigError(str(path), [Problem(str(err), "keep one copy of each key")]) from None


def layout_from_ds_config(cfg: dict, world_size: int, base: LayoutArgs | None = None) -> Layout:
    """The layout a user's JSON implies, for runs given --deepspeed but no --layout."""
    base = copy.copy(base or LayoutArgs())
    zero = _section(cfg, "zero_optimization")
    stage = zero.get("stage", 0)
    base.zero_stage = stage if isinstance(stage, int) else base.zero_stage
    base.offload_optimizer = _offloaded(zero, "offload_optimizer")
    base.offload_param = _offloaded(zero, "offload_param")
    autotp = _section(cfg, "tensor_parallel").get("autotp_size", 0)
    if isinstance(autotp, int) and autotp > 1:
        base.tp, base.pp = autotp, 1
    return Layout.from_args(base, world_size)


def load_and_check(path: str | Path, layout: Layout, train_args: TrainArgs, world_size: int) -> dict:
    """Read a user's ds.json, refuse every problem (including contradictions with the layout and
    the command line), and return the config the run uses: the user's, plus AutoTP from the layout."""
    cfg = read_ds_json(path)
    check_ds_config(cfg, layout=layout, world_size=world_size, source=str(path), train_args=train_args)
    merged = copy.deepcopy(cfg)
    if layout.autotp:
        merged.setdefault("tensor_parallel", {})["autotp_size"] = layout.tp
    return merged
