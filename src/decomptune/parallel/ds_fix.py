"""`--fix-config`: the nearest valid DeepSpeed config to a user's, with a note per change.

Nearest means: keep every setting DeepSpeed honours, drop what it ignores, rename typos,
move what belongs to the layout (pipeline / tensor sizes) into a suggested `--layout`, and
fill what is missing (batch sizes) the way the run's path needs it.
"""
from __future__ import annotations

import copy
import difflib
from typing import Any

from decomptune.config import TrainArgs
from decomptune.parallel import ds_keys
from decomptune.parallel.ds_check import _auto_paths, _intended_tp_pp, _offloaded, suggested_layout_flag
from decomptune.parallel.ds_config import ADAM_BETAS, ADAM_EPS
from decomptune.parallel.layout import Layout


def nearest_valid_config(cfg: dict, layout: Layout | None = None, train_args: TrainArgs | None = None,
                         world_size: int | None = None) -> tuple[dict, list[str]]:
    """Return (fixed config, notes). The fixed config passes check_ds_config with the same
    layout, or, without one, with the layout the notes suggest."""
    notes: list[str] = []
    fixed = copy.deepcopy(cfg)
    tp, pp = _intended_tp_pp(cfg, layout)
    flag = suggested_layout_flag(cfg, layout)
    if train_args is None:
        train_args = TrainArgs()
        used_defaults = True
    else:
        used_defaults = False
    _fix_top_level(fixed, flag, notes)
    _fix_zero(fixed, layout, pp, notes)
    _fix_autos(fixed, layout, pp, train_args, world_size, notes)
    _fix_batch(fixed, layout, tp, pp, train_args, world_size, notes)
    if layout is not None:
        _fix_layout_contradictions(fixed, layout, notes)
    stage = fixed.get("zero_optimization", {}).get("stage") if isinstance(fixed.get("zero_optimization"), dict) else 0
    if tp > 1 and pp == 1 and stage == 3 and "train_batch_size" in fixed:
        fixed.pop("train_batch_size")
        notes.append("removed 'train_batch_size': with AutoTP and ZeRO-3 DeepSpeed must derive it")
    if not used_defaults:
        _fix_train_args_contradictions(fixed, pp, train_args, notes)
    if pp == 1 and isinstance(fixed.get("scheduler"), dict) and not used_defaults:
        kind = fixed.pop("scheduler").get("type")
        notes.append(f"removed 'scheduler' ({kind}): the HF Trainer now builds --lr_scheduler_type "
                     f"{train_args.lr_scheduler_type} instead of silently using {kind}")
    if used_defaults and any("decomptune's defaults" in n for n in notes):
        notes.append("numbers above come from decomptune's TrainArgs defaults; set your own if they differ")
    return fixed, notes


def _fix_top_level(fixed: dict, flag: str, notes: list[str]) -> None:
    known = ds_keys.top_level_keys()
    for key in list(fixed):
        if key in known:
            continue
        value = fixed.pop(key)
        if key == "model_parallel":
            notes.append(f"removed 'model_parallel' (DeepSpeed ignores it): run with --layout {flag}")
        elif key == "deepspeed_transformer_kernel":
            notes.append("removed 'deepspeed_transformer_kernel' (DeepSpeed ignores it)")
        else:
            guess = difflib.get_close_matches(key, sorted(known), n=1, cutoff=0.75)
            if guess and guess[0] not in fixed:
                fixed[guess[0]] = value
                notes.append(f"renamed '{key}' to '{guess[0]}'")
            else:
                notes.append(f"removed '{key}' (DeepSpeed {'refuses' if key in ds_keys.removed_top_level_keys() else 'ignores'} it)")


def _fix_zero(fixed: dict, layout: Layout | None, pp: int, notes: list[str]) -> None:
    zero = fixed.get("zero_optimization")
    if zero is None:
        return
    if not isinstance(zero, dict):
        fixed["zero_optimization"] = zero = {"stage": layout.zero_stage if layout else 1}
        notes.append(f"replaced 'zero_optimization' with {zero}")
    stage = zero.get("stage", 0)
    if not isinstance(stage, int) or isinstance(stage, bool) or stage not in (0, 1, 2, 3):
        new = layout.zero_stage if layout else (min(max(stage, 0), 3) if isinstance(stage, int) else 1)
        zero["stage"] = stage = new
        notes.append(f"set 'zero_optimization.stage' to {new}")
    if pp > 1 and stage >= 2:
        zero["stage"] = stage = 1
        notes.append("set 'zero_optimization.stage' to 1: the pipeline engine refuses ZeRO-2/3")
    known = ds_keys.zero_keys()
    for key in list(zero):
        if key in known:
            continue
        value = zero.pop(key)
        guess = difflib.get_close_matches(key, sorted(known), n=1, cutoff=0.75)
        if guess and guess[0] not in zero:
            zero[guess[0]] = value
            notes.append(f"renamed 'zero_optimization.{key}' to '{guess[0]}'")
        else:
            notes.append(f"removed 'zero_optimization.{key}' (not a ZeRO setting)")
    for section in ("offload_optimizer", "offload_param"):
        sub = zero.get(section)
        if sub is not None and not isinstance(sub, dict):
            zero.pop(section)
            notes.append(f"removed 'zero_optimization.{section}' (not an object)")
        elif isinstance(sub, dict):
            for key in [k for k in sub if k not in ds_keys.offload_keys(section)]:
                sub.pop(key)
                notes.append(f"removed 'zero_optimization.{section}.{key}' (not an offload setting)")
    if _offloaded(zero, "offload_param") and stage < 3:
        zero.pop("offload_param")
        notes.append(f"removed 'zero_optimization.offload_param': stage {stage} never offloads parameters "
                     f"(to offload them use --layout zero=3,offload=optimizer+param)")
    if _offloaded(zero, "offload_optimizer") and stage == 0:
        zero.pop("offload_optimizer")
        notes.append("removed 'zero_optimization.offload_optimizer': stage 0 never offloads (use stage >= 1)")


def _auto_value(path: str, layout: Layout | None, train_args: TrainArgs, pp: int) -> Any:
    """What the HF Trainer would have written for an "auto", for the pipeline path; None if unknown."""
    micro_batches = (layout.micro_batches if layout and layout.micro_batches else
                     train_args.gradient_accumulation_steps)
    return {
        "train_micro_batch_size_per_gpu": train_args.per_device_train_batch_size,
        "gradient_accumulation_steps": micro_batches if pp > 1 else train_args.gradient_accumulation_steps,
        "gradient_clipping": train_args.max_grad_norm,
        "optimizer.params.lr": train_args.learning_rate,
        "optimizer.params.betas": list(ADAM_BETAS),
        "optimizer.params.eps": ADAM_EPS,
        "optimizer.params.weight_decay": train_args.weight_decay,
        "scheduler.params.warmup_min_lr": 0.0,
        "scheduler.params.warmup_max_lr": train_args.learning_rate,
        "scheduler.params.warmup_num_steps": 1,
        "fp16.enabled": False,
        "bf16.enabled": bool(train_args.bf16),
    }.get(path)


def _set_path(cfg: dict, path: str, value: Any) -> None:
    *parents, leaf = path.split(".")
    node = cfg
    for name in parents:
        node = node[name]
    if value is None:
        node.pop(leaf)
    else:
        node[leaf] = value


def _fix_autos(fixed: dict, layout: Layout | None, pp: int, train_args: TrainArgs,
               world_size: int | None, notes: list[str]) -> None:
    filled = ds_keys.hf_auto_filled_keys()
    set_values, removed = [], []
    for path in _auto_paths(fixed):
        if (pp == 1 and path in filled) or path == "train_batch_size":  # _fix_batch handles the latter
            continue
        value = _auto_value(path, layout, train_args, pp) if pp > 1 else None
        _set_path(fixed, path, value)
        (removed if value is None else set_values).append(f"{path}={value!r}" if value is not None else path)
    if set_values:
        notes.append(f"replaced \"auto\" (the pipeline path has no HF Trainer to fill it) with your flags or "
                     f"decomptune's defaults: {', '.join(set_values)}")
    if removed:
        notes.append(f"removed \"auto\" values nothing fills (DeepSpeed's defaults apply): {', '.join(removed)}")
    if pp > 1 and isinstance(fixed.get("scheduler"), dict) and train_args.warmup_ratio > 0:
        notes.append("the scheduler's warmup_num_steps is 1: write ceil(warmup_ratio * total steps) yourself")


def _fix_batch(fixed: dict, layout: Layout | None, tp: int, pp: int, train_args: TrainArgs,
               world_size: int | None, notes: list[str]) -> None:
    train, micro = fixed.get("train_batch_size"), fixed.get("train_micro_batch_size_per_gpu")
    if pp == 1 and micro is None and train is None:
        for key in ("train_micro_batch_size_per_gpu", "gradient_accumulation_steps", "train_batch_size"):
            fixed.setdefault(key, "auto")
        notes.append('added batch sizes as "auto": the HF Trainer fills them from --per_device_train_batch_size '
                     "and --gradient_accumulation_steps, consistently")
        return
    if pp > 1:
        if micro in (None, "auto"):
            fixed["train_micro_batch_size_per_gpu"] = micro = train_args.per_device_train_batch_size
            notes.append(f"set 'train_micro_batch_size_per_gpu' to {micro} (your flags or decomptune's defaults)")
        if fixed.get("gradient_accumulation_steps") in (None, "auto"):
            gas = _auto_value("gradient_accumulation_steps", layout, train_args, pp)
            fixed["gradient_accumulation_steps"] = gas
            notes.append(f"set 'gradient_accumulation_steps' (pipeline micro-batches) to {gas}")
    train, micro, gas = (fixed.get(k) for k in ("train_batch_size", "train_micro_batch_size_per_gpu",
                                                "gradient_accumulation_steps"))
    numbers = all(isinstance(v, int) and not isinstance(v, bool) for v in (micro, gas))
    if pp > 1 and train is None:
        return  # DeepSpeed derives it from micro-batch, micro-batches and dp: always consistent
    if numbers and world_size is not None and world_size % (tp * pp) == 0:
        replicas = world_size // (tp * pp) if pp > 1 else world_size
        if train != micro * gas * replicas:
            fixed["train_batch_size"] = micro * gas * replicas
            notes.append(f"set 'train_batch_size' to {micro} * {gas} * {replicas} = {micro * gas * replicas}")
    elif train == "auto" and pp > 1:
        fixed.pop("train_batch_size")  # DeepSpeed derives it from micro, accumulation and replicas
        notes.append("removed 'train_batch_size' = \"auto\": DeepSpeed derives it from the other two")
    elif numbers and isinstance(train, int) and train % (micro * gas):
        fixed.pop("train_batch_size")
        notes.append("removed 'train_batch_size': it is not a multiple of micro * grad_accum; "
                     "DeepSpeed derives it from the other two")


def _fix_layout_contradictions(fixed: dict, layout: Layout, notes: list[str]) -> None:
    zero = fixed.get("zero_optimization")
    if isinstance(zero, dict):
        if "stage" in zero and zero["stage"] != layout.zero_stage:
            notes.append(f"set 'zero_optimization.stage' {zero['stage']} -> {layout.zero_stage} (the layout's)")
            zero["stage"] = layout.zero_stage
        for section, wanted in (("offload_optimizer", layout.offload_optimizer),
                                ("offload_param", layout.offload_param)):
            if section in zero and _offloaded(zero, section) != wanted:
                zero.pop(section)
                notes.append(f"removed 'zero_optimization.{section}': the layout decides offload")
    tensor = fixed.get("tensor_parallel")
    if isinstance(tensor, dict) and "autotp_size" in tensor:
        wanted = layout.tp if layout.autotp else 0
        if (tensor["autotp_size"] or 1) != (wanted or 1):
            fixed.pop("tensor_parallel")
            notes.append("removed 'tensor_parallel': decomptune sets AutoTP from --layout")


def _fix_train_args_contradictions(fixed: dict, pp: int, train_args: TrainArgs, notes: list[str]) -> None:
    for key, value in (("train_micro_batch_size_per_gpu", train_args.per_device_train_batch_size),
                       ("gradient_accumulation_steps", train_args.gradient_accumulation_steps),
                       ("gradient_clipping", train_args.max_grad_norm)):
        mine = fixed.get(key)
        if isinstance(mine, (int, float)) and not isinstance(mine, bool) and mine != value:
            fixed[key] = "auto" if pp == 1 else value
            notes.append(f"set '{key}' {mine} -> {fixed[key]!r} to agree with the command line")
            if key != "gradient_clipping" and pp == 1 and isinstance(fixed.get("train_batch_size"), int):
                fixed["train_batch_size"] = "auto"
