"""Check a DeepSpeed config the way DeepSpeed really reads it, and say what is wrong.

DeepSpeed ignores keys it does not know, drops settings that do not apply to the chosen ZeRO
stage, and fails only late (after the model is loaded) on missing or inconsistent batch sizes.
`check_ds_config` finds all of that up front and reports every problem at once, each with what
DeepSpeed would really have done and what to write instead.

Batch sizes: DeepSpeed checks train_batch_size == micro * grad_accum * W. On the ZeRO path
(HF Trainer, AutoTP included) W is every process: the Trainer, accelerate and DeepSpeed all
count processes, not data-parallel replicas. On the pipeline path DeepSpeed is given the
topology, so W is dp = world / (tp * pp). Both measured with real runs here.
"""
from __future__ import annotations

import difflib
from typing import Any

from decomptune.config import TrainArgs
from decomptune.parallel import ds_keys
from decomptune.parallel.layout import Layout, Problem

BATCH_KEYS = ("train_batch_size", "train_micro_batch_size_per_gpu", "gradient_accumulation_steps")


class DeepSpeedConfigError(ValueError):
    def __init__(self, source: str, problems: list[Problem]):
        self.source, self.problems = source, problems
        head = f"{source}: {len(problems)} problem{'s' * (len(problems) > 1)} in the DeepSpeed config:"
        super().__init__("\n".join([head, *map(str, problems)]))


def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def _section(cfg: dict, key: str) -> dict:
    value = cfg.get(key)
    return value if isinstance(value, dict) else {}


def _positive_int(value: Any) -> int:
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 1


def _intended_tp_pp(cfg: dict, layout: Layout | None) -> tuple[int, int]:
    """The tp/pp the user meant: the layout's, else what a (DeepSpeed-ignored) model_parallel
    section says, else AutoTP's size."""
    if layout is not None:
        return layout.tp, layout.pp
    if "model_parallel" in cfg:
        mp = _section(cfg, "model_parallel")
        return (_positive_int(_section(mp, "tensor_parallel").get("size")),
                _positive_int(_section(mp, "pipeline").get("stages")))
    return _positive_int(_section(cfg, "tensor_parallel").get("autotp_size")), 1


def suggested_layout_flag(cfg: dict, layout: Layout | None = None) -> str:
    tp, pp = _intended_tp_pp(cfg, layout)
    zero = _section(cfg, "zero_optimization")
    stage = zero.get("stage", 0) if zero.get("stage", 0) in (0, 1, 2, 3) else 0
    if pp > 1:
        stage = min(stage, 1) or 1
    offload_opt = _offloaded(zero, "offload_optimizer") and stage >= 1
    offload_param = _offloaded(zero, "offload_param") and stage == 3
    return Layout(tp=tp, pp=pp, zero_stage=stage, offload_optimizer=offload_opt,
                  offload_param=offload_param).flag()


def _offloaded(zero: dict, section: str) -> bool:
    value = zero.get(section)
    return isinstance(value, dict) and value.get("device", "none") not in (None, "none")


def _auto_paths(node: Any, prefix: str = "") -> list[str]:
    if isinstance(node, dict):
        return [p for k, v in node.items() for p in _auto_paths(v, f"{prefix}{k}.")]
    return [prefix[:-1]] if node == "auto" else []


def check_ds_config(cfg: Any, layout: Layout | None = None, world_size: int | None = None,
                    source: str = "ds.json", train_args: TrainArgs | None = None) -> None:
    """Raise DeepSpeedConfigError listing every problem in a DeepSpeed config, or return None.

    layout: the run's layout; contradictions with it are refused, and pp > 1 means the
    pipeline path (no HF Trainer, so no "auto"). Without a layout, the intent is read from
    the config itself (a model_parallel section). train_args: contradictions with the
    command line (batch sizes, clipping, LR schedule) are refused too.
    """
    if not isinstance(cfg, dict):
        raise DeepSpeedConfigError(source, [Problem(
            f"the config is a JSON {type(cfg).__name__}, not an object",
            'write a JSON object: {"zero_optimization": {"stage": 1}, ...}')])
    problems: list[Problem] = []
    tp, pp = _intended_tp_pp(cfg, layout)
    _check_top_level(cfg, problems)
    stage = _check_zero(cfg, pp, problems)
    _check_autos(cfg, pp, problems)
    if tp > 1 and pp == 1 and stage == 3 and "train_batch_size" in cfg:
        problems.append(Problem(
            f"'train_batch_size' with AutoTP (tp={tp}) and ZeRO-3: DeepSpeed checks the batch twice and counts "
            f"W differently: the engine counts every process, ZeRO-3's parameter partitioning counts only the "
            f"data-parallel replicas (processes / tp). No value passes both (the HF Trainer's \"auto\" fills "
            f"the first), so DeepSpeed stops at start-up ('Check batch related parameters')",
            "remove 'train_batch_size': DeepSpeed derives it from 'train_micro_batch_size_per_gpu' and "
            "'gradient_accumulation_steps'"))
    else:
        _check_batch(cfg, tp, pp, world_size, problems)
    if layout is not None:
        _check_against_layout(cfg, layout, stage, problems)
    if train_args is not None:
        _check_against_train_args(cfg, train_args, pp, problems)
    if problems:
        raise DeepSpeedConfigError(source, problems)


def _check_top_level(cfg: dict, problems: list[Problem]) -> None:
    known = ds_keys.top_level_keys()
    removed = ds_keys.removed_top_level_keys()
    for key in cfg:
        if key in known:
            continue
        if key == "model_parallel":
            problems.append(Problem(
                "'model_parallel': DeepSpeed has no such key and never reads it. The run would be plain "
                "ZeRO data parallelism: every process holds the whole model, with no pipeline stages and "
                "no tensor slicing",
                f"remove 'model_parallel' and give decomptune the layout: --layout "
                f"{suggested_layout_flag(cfg)} (world size must be a multiple of tp*pp)"))
        elif key == "deepspeed_transformer_kernel":
            problems.append(Problem(
                "'deepspeed_transformer_kernel': DeepSpeed never reads this key. Its transformer kernel is "
                "a layer class (DeepSpeedTransformerLayer) a model must be written with; a config flag "
                "cannot swap it into a Hugging Face Llama model, which keeps running its own layers",
                "remove it (for faster attention use --use_flash_attention on a GPU)"))
        elif key in removed:
            problems.append(Problem(f"'{key}': DeepSpeed refuses it at start-up: {removed[key]}",
                                    f"remove '{key}'"))
        else:
            guess = difflib.get_close_matches(key, sorted(known), n=1, cutoff=0.75)
            effect = "so its settings have no effect and DeepSpeed uses its defaults"
            if guess and guess[0] == "zero_optimization":
                effect = "so ZeRO stays off (stage 0): nothing is sharded or offloaded"
            problems.append(Problem(
                f"'{key}': DeepSpeed never reads this key, {effect}",
                f"rename it to '{guess[0]}'" if guess else
                f"remove it; DeepSpeed {_ds_version()} reads only: {', '.join(sorted(known))}"))


def _ds_version() -> str:
    import deepspeed

    return deepspeed.__version__


def _check_zero(cfg: dict, pp: int, problems: list[Problem]) -> int:
    """Check zero_optimization; returns the stage DeepSpeed would run (0 if unreadable)."""
    zero = cfg.get("zero_optimization", {})
    if not isinstance(zero, dict):
        problems.append(Problem("'zero_optimization' must be an object",
                                'write "zero_optimization": {"stage": 1}'))
        return 0
    stage = zero.get("stage", 0)
    if not isinstance(stage, int) or isinstance(stage, bool) or stage not in (0, 1, 2, 3):
        problems.append(Problem(
            f"'zero_optimization.stage' = {stage!r}: DeepSpeed knows stages 0, 1, 2 and 3 "
            f"(and nothing fills in {stage!r})",
            "write a number 0-3, or leave the stage to decomptune: --layout zero=N"))
        stage = 0
    known = ds_keys.zero_keys()
    for key in zero:
        if key not in known:
            guess = difflib.get_close_matches(key, sorted(known), n=1, cutoff=0.75)
            problems.append(Problem(
                f"'zero_optimization.{key}': not a ZeRO setting; DeepSpeed stops at start-up with "
                f"'Extra inputs are not permitted', after the model is loaded",
                f"rename it to '{guess[0]}'" if guess else f"remove it (ZeRO settings: {', '.join(sorted(known))})"))
    for section in ("offload_optimizer", "offload_param"):
        sub = zero.get(section)
        if sub is None:
            continue
        if not isinstance(sub, dict):
            problems.append(Problem(f"'zero_optimization.{section}' must be an object",
                                    f'write "{section}": {{"device": "cpu"}}'))
            continue
        for key in sub:
            if key not in ds_keys.offload_keys(section):
                problems.append(Problem(
                    f"'zero_optimization.{section}.{key}': not an offload setting; DeepSpeed stops at "
                    f"start-up with 'Extra inputs are not permitted'",
                    f"remove it (settings: {', '.join(sorted(ds_keys.offload_keys(section)))})"))
    if _offloaded(zero, "offload_param") and stage < 3:
        problems.append(Problem(
            f"'zero_optimization.offload_param' with stage {stage}: only ZeRO-3 partitions parameters, so "
            f"DeepSpeed silently drops this setting and every parameter stays on the GPU",
            "remove 'offload_param', or use stage 3 to offload parameters (--layout zero=3,offload=optimizer+param)"))
    if _offloaded(zero, "offload_optimizer") and stage == 0:
        problems.append(Problem(
            "'zero_optimization.offload_optimizer' with stage 0: optimizer offload is part of ZeRO, so "
            "DeepSpeed ignores it and keeps the optimizer state on the GPU",
            "use stage 1 or higher, or remove 'offload_optimizer'"))
    if pp > 1 and stage >= 2:
        problems.append(Problem(
            f"pipeline parallelism (pp={pp}) with 'zero_optimization.stage' = {stage}: DeepSpeed's pipeline "
            f"engine stops at start-up ('ZeRO-2 and ZeRO-3 are incompatible with pipeline parallelism')",
            "use stage 1 (optimizer state sharded over the data-parallel replicas)"))
    return stage


def _check_autos(cfg: dict, pp: int, problems: list[Problem]) -> None:
    filled = ds_keys.hf_auto_filled_keys()
    autos = _auto_paths(cfg)
    stray = autos if pp > 1 else [p for p in autos if p not in filled]
    if not stray:
        return
    names = ", ".join(f"'{p}'" for p in stray)
    if pp > 1:
        problems.append(Problem(
            f"{names} = \"auto\": the pipeline path (pp={pp}) runs DeepSpeed's own engine and only the HF "
            f"Trainer fills \"auto\"; DeepSpeed would drop these and use its defaults, or fail on a number",
            "write the values, or leave --deepspeed out and let decomptune build the config from --layout"))
    else:
        problems.append(Problem(
            f"{names} = \"auto\": the HF Trainer fills \"auto\" only in {', '.join(sorted(filled))}; "
            f"DeepSpeed would drop these and use its defaults, or fail on a number",
            "write the values you want"))


def _check_batch(cfg: dict, tp: int, pp: int, world_size: int | None, problems: list[Problem]) -> None:
    train, micro = cfg.get("train_batch_size"), cfg.get("train_micro_batch_size_per_gpu")
    gas = cfg.get("gradient_accumulation_steps")
    if train is None and micro is None:
        problems.append(Problem(
            "no batch size: neither 'train_batch_size' nor 'train_micro_batch_size_per_gpu' is set. "
            "DeepSpeed stops at start-up ('Either train_batch_size or train_micro_batch_size_per_gpu needs "
            "to be provided'), after the model is loaded; the HF Trainer fills only keys that say \"auto\"",
            ('add "train_micro_batch_size_per_gpu": "auto", "gradient_accumulation_steps": "auto", '
             '"train_batch_size": "auto" (the HF Trainer fills them from --per_device_train_batch_size and '
             '--gradient_accumulation_steps), or the numbers') if pp == 1 else
            'add "train_micro_batch_size_per_gpu": <per-process batch> and "gradient_accumulation_steps": '
            '<micro-batches per step>'))
        return
    for key in BATCH_KEYS:
        value = cfg.get(key)
        if value is not None and value != "auto" and (not isinstance(value, int) or isinstance(value, bool)
                                                      or value < 1):
            problems.append(Problem(f"'{key}' = {value!r} must be a whole number >= 1 (or \"auto\")",
                                    f'write e.g. "{key}": 1'))
            return
    if world_size is None or world_size % (tp * pp) or not _is_number(train):
        return  # nothing to multiply out (a world size that does not fit is the layout check's)
    replicas = world_size // (tp * pp) if pp > 1 else world_size
    who = (f"the dp = {world_size}/(tp*pp) = {replicas} data-parallel replicas" if pp > 1 else
           f"all {world_size} processes (the HF Trainer and DeepSpeed count every process, TP ranks too)")
    if _is_number(micro) and _is_number(gas):
        ok, want = train == micro * gas * replicas, f"{micro} * {gas} * {replicas} = {micro * gas * replicas}"
        fix = f'write "train_batch_size": {micro * gas * replicas}, or "auto" under the HF Trainer'
    elif _is_number(micro) and gas is None:
        ok, want = train % (micro * replicas) == 0, f"a multiple of {micro} * {replicas} = {micro * replicas}"
        fix = f'write "gradient_accumulation_steps" and a "train_batch_size" that is {want}'
    elif _is_number(gas) and micro is None:
        ok, want = train % (gas * replicas) == 0, f"a multiple of {gas} * {replicas} = {gas * replicas}"
        fix = f'write "train_micro_batch_size_per_gpu" and a "train_batch_size" that is {want}'
    else:
        return
    if not ok:
        problems.append(Problem(
            f"'train_batch_size' = {train} does not multiply out: DeepSpeed needs micro * grad_accum * W = "
            f"{want}, where W counts {who}. DeepSpeed stops at start-up ('Check batch related parameters')",
            fix))


def _check_against_layout(cfg: dict, layout: Layout, stage: int, problems: list[Problem]) -> None:
    zero = _section(cfg, "zero_optimization")
    if "stage" in zero and stage != layout.zero_stage:
        problems.append(Problem(
            f"'zero_optimization.stage' = {stage} contradicts the layout's zero={layout.zero_stage}",
            f"make them agree: --layout zero={stage}, or \"stage\": {layout.zero_stage}, or drop the stage "
            f"from the JSON (the layout decides it)"))
    for section, wanted in (("offload_optimizer", layout.offload_optimizer), ("offload_param", layout.offload_param)):
        if section in zero and _offloaded(zero, section) != wanted:
            problems.append(Problem(
                f"'zero_optimization.{section}' {'offloads' if not wanted else 'does not offload'} but the "
                f"layout says offload {section.split('_')[1]}={'yes' if wanted else 'no'}",
                f"make them agree: change --layout offload=..., or drop '{section}' from the JSON "
                f"(the layout decides it)"))
    autotp = _section(cfg, "tensor_parallel").get("autotp_size")
    expected = layout.tp if layout.autotp else 1
    if autotp is not None and (autotp or 1) != expected:  # 0 means AutoTP off
        problems.append(Problem(
            f"'tensor_parallel.autotp_size' = {autotp} contradicts the layout (tp={layout.tp}, pp={layout.pp}: "
            f"AutoTP {'size ' + str(expected) if layout.autotp else 'off'})",
            "drop 'tensor_parallel' from the JSON: decomptune sets it from --layout"))


def _check_against_train_args(cfg: dict, train_args: TrainArgs, pp: int, problems: list[Problem]) -> None:
    pairs = (("train_micro_batch_size_per_gpu", train_args.per_device_train_batch_size,
              "--per_device_train_batch_size"),
             ("gradient_accumulation_steps", train_args.gradient_accumulation_steps, "--gradient_accumulation_steps"),
             ("gradient_clipping", train_args.max_grad_norm, "--max_grad_norm"))
    for key, value, flag in pairs:
        mine = cfg.get(key)
        if _is_number(mine) and mine != value:
            problems.append(Problem(
                f"'{key}' = {mine} contradicts {flag} {value}; the HF Trainer stops with a mismatch error",
                f'write "{key}": "auto" (filled from {flag}), or change {flag}'))
    scheduler = cfg.get("scheduler")
    if isinstance(scheduler, dict) and pp == 1:  # the pipeline path has no Trainer scheduler to replace
        problems.append(Problem(
            f"'scheduler' ({scheduler.get('type')}) replaces --lr_scheduler_type {train_args.lr_scheduler_type}: "
            f"when the DeepSpeed config has a scheduler the HF Trainer uses it and ignores the flag"
            + (" (WarmupLR then holds the LR constant after warmup)" if scheduler.get("type") == "WarmupLR" else ""),
            "remove 'scheduler' to get --lr_scheduler_type (with --warmup_ratio), or drop the flag"))
