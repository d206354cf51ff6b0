"""One Layout decides how a run is split over processes: tp x pp x dp, ZeRO stage, offload.

`validate()` runs before any training process does work; it refuses layouts that DeepSpeed
would reject late, silently ignore, or that the model's shape cannot be split into, and says
how to fix each. The ZeRO path (HF Trainer, pp == 1, AutoTP when tp > 1) and the pipeline path
(DeepSpeed PipelineModule, pp > 1) are chosen from the layout, never by the user.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Any, Mapping

from decomptune.config import LayoutArgs

PARTITIONS = ("parameters", "uniform")
OFFLOAD_CHOICES = {
    "none": (False, False),
    "optimizer": (True, False),
    "param": (False, True),
    "params": (False, True),
    "optimizer+param": (True, True),
    "param+optimizer": (True, True),
    "all": (True, True),
}


@dataclass(frozen=True)
class Problem:
    """One reason a layout or config is refused: what is wrong, and what to write instead."""

    what: str
    fix: str

    def __str__(self) -> str:
        return f"- {self.what}\n    fix: {self.fix}"


class LayoutError(ValueError):
    def __init__(self, layout: "Layout | str", problems: list[Problem]):
        self.problems = problems
        head = f"layout {layout} cannot run ({len(problems)} problem{'s' * (len(problems) > 1)}):"
        super().__init__("\n".join([head, *map(str, problems)]))


@dataclass(frozen=True)
class Layout:
    tp: int = 1
    pp: int = 1
    dp: int = 1
    zero_stage: int = 1
    offload_optimizer: bool = False
    offload_param: bool = False
    micro_batches: int | None = None  # pipeline: micro-batches per step; None = grad accumulation
    partition: str = "parameters"

    @property
    def path(self) -> str:
        return "zero" if self.pp == 1 else "pipeline"

    @property
    def autotp(self) -> bool:
        """TP without pipeline runs as DeepSpeed AutoTP inside the HF Trainer."""
        return self.tp > 1 and self.pp == 1

    @property
    def world_size(self) -> int:
        return self.tp * self.pp * self.dp

    def __str__(self) -> str:
        return self.flag()

    def flag(self) -> str:
        """The `--layout` string that reproduces this layout (dp is derived, so left out)."""
        parts = [f"tp={self.tp}", f"pp={self.pp}", f"zero={self.zero_stage}"]
        offload = {(True, False): "optimizer", (False, True): "param", (True, True): "optimizer+param"}
        if self.offload_optimizer or self.offload_param:
            parts.append(f"offload={offload[(self.offload_optimizer, self.offload_param)]}")
        if self.micro_batches is not None:
            parts.append(f"micro_batches={self.micro_batches}")
        if self.partition != "parameters":
            parts.append(f"partition={self.partition}")
        return ",".join(parts)

    @classmethod
    def from_args(cls, layout_args: LayoutArgs, world_size: int) -> "Layout":
        """dp is what is left of the world after tp x pp (0 if they do not fit; validate says why)."""
        per_replica = max(1, layout_args.tp * layout_args.pp)
        return cls(
            tp=layout_args.tp,
            pp=layout_args.pp,
            dp=world_size // per_replica,
            zero_stage=layout_args.zero_stage,
            offload_optimizer=layout_args.offload_optimizer,
            offload_param=layout_args.offload_param,
            micro_batches=layout_args.micro_batches,
            partition=layout_args.partition,
        )

    @classmethod
    def parse(cls, text: str, world_size: int | None = None, base: LayoutArgs | None = None) -> "Layout":
        """`--layout tp=2,pp=2,zero=1,offload=optimizer` on top of `base` (YAML or defaults).

        dp comes from `dp=` when given (validate then checks it against the world size),
        else from world_size // (tp * pp), else 1.
        """
        overrides = parse_layout_overrides(text)
        explicit_dp = overrides.pop("dp", None)
        args = replace(base or LayoutArgs(), **overrides)
        if explicit_dp is not None:
            return replace(cls.from_args(args, 1), dp=explicit_dp)
        return cls.from_args(args, world_size if world_size is not None else args.tp * args.pp)


_KEY_ALIASES = {
    "tp": "tp", "pp": "pp", "dp": "dp",
    "zero": "zero_stage", "zero_stage": "zero_stage", "stage": "zero_stage",
    "offload": "offload",
    "micro_batches": "micro_batches", "mb": "micro_batches", "micro": "micro_batches",
    "partition": "partition",
}


def parse_layout_overrides(text: str) -> dict[str, Any]:
    """`"tp=2,pp=2,zero=1,offload=optimizer"` -> LayoutArgs field values (plus "dp" if given)."""
    out: dict[str, Any] = {}
    for item in filter(None, (part.strip() for part in text.split(","))):
        key, sep, value = item.partition("=")
        key, value = key.strip().lower(), value.strip().lower()
        if not sep or not value:
            raise LayoutError(text, [Problem(f"'{item}' is not key=value",
                                             "write e.g. --layout tp=2,pp=2,zero=1,offload=optimizer")])
        if key not in _KEY_ALIASES:
            raise LayoutError(text, [Problem(f"unknown layout key '{key}'",
                                             f"use one of: {', '.join(sorted(set(_KEY_ALIASES)))}")])
        field_name = _KEY_ALIASES[key]
        if field_name == "offload":
            if value not in OFFLOAD_CHOICES:
                raise LayoutError(text, [Problem(f"offload={value} is not known",
                                                 f"use one of: {', '.join(OFFLOAD_CHOICES)}")])
            out["offload_optimizer"], out["offload_param"] = OFFLOAD_CHOICES[value]
        elif field_name == "partition":
            if value not in PARTITIONS:
                raise LayoutError(text, [Problem(f"partition={value} is not known",
                                                 f"use one of: {', '.join(PARTITIONS)}")])
            out["partition"] = value
        else:
            try:
                out[field_name] = int(value)
            except ValueError:
                raise LayoutError(text, [Problem(f"{key}={value} is not a whole number",
                                                 f"write {key}=<integer>, e.g. {key}=2")]) from None
    return out


def _config_value(model_config: Any, name: str) -> Any:
    if isinstance(model_config, Mapping):
        return model_config.get(name)
    return getattr(model_config, name, None)


def _divisors(n: int) -> list[int]:
    return [d for d in range(1, n + 1) if n % d == 0]


def valid_tp_sizes(model_config: Any) -> list[int]:
    """TP sizes the model's shape allows: dividing q heads, kv heads and the MLP width."""
    heads = _config_value(model_config, "num_attention_heads")
    kv_heads = _config_value(model_config, "num_key_value_heads") or heads
    width = _config_value(model_config, "intermediate_size")
    return _divisors(math.gcd(heads, kv_heads, width))


def validate(layout: Layout, model_config: Any = None, world_size: int | None = None,
             gradient_accumulation_steps: int | None = None,
             max_grad_norm: float | None = None) -> list[str]:
    """Refuse an unrunnable layout (LayoutError listing every problem with its fix).

    model_config: a transformers config (LlamaConfig attribute names) or a dict; None skips the
    shape checks. Returns warnings for layouts that run but waste or risk something.
    """
    problems: list[Problem] = []
    warnings: list[str] = []
    _check_sizes(layout, world_size, problems)
    if model_config is not None and layout.tp >= 1 and layout.pp >= 1:
        _check_model_shape(layout, model_config, problems)
    _check_zero(layout, problems)
    if layout.pp > 1:
        micro = layout.micro_batches or gradient_accumulation_steps or 1
        if micro < layout.pp:
            warnings.append(
                f"pipeline bubble: {micro} micro-batch(es) per step over pp={layout.pp} stages keeps each "
                f"stage idle about {(layout.pp - 1) / (micro + layout.pp - 1):.0%} of the time; "
                f"use micro_batches >= {4 * layout.pp} (or gradient_accumulation_steps) for a small bubble")
        if layout.zero_stage == 0 and (max_grad_norm or 0) > 0:
            warnings.append(
                "pipeline with zero=0 and gradient clipping: DeepSpeed's clip_grad_norm_ counts only the "
                "parameters it sees as replicated on model-parallel rank 0, so later stages can be left out "
                "of the norm; prefer zero=1")
    if problems:
        raise LayoutError(layout, problems)
    return warnings


def _check_sizes(layout: Layout, world_size: int | None, problems: list[Problem]) -> None:
    # With a world size, a dp that does not fit is explained by the world-size checks below.
    for name in ("tp", "pp") if world_size is not None else ("tp", "pp", "dp"):
        value = getattr(layout, name)
        if not isinstance(value, int) or value < 1:
            problems.append(Problem(f"{name}={value} must be a whole number >= 1",
                                    f"set {name} to 1 or more"))
    if layout.partition not in PARTITIONS:
        problems.append(Problem(f"partition={layout.partition} is not known",
                                f"use one of: {', '.join(PARTITIONS)}"))
    if world_size is None or layout.tp < 1 or layout.pp < 1:
        return
    per_replica = layout.tp * layout.pp
    if world_size % per_replica:
        fitting = _divisors(world_size)
        problems.append(Problem(
            f"world size {world_size} is not divisible by tp*pp = {layout.tp}*{layout.pp} = {per_replica}, "
            f"so the processes cannot form whole model replicas",
            f"launch a multiple of {per_replica} processes, or pick tp and pp whose product divides "
            f"{world_size} (one of {fitting})"))
    elif layout.tp * layout.pp * layout.dp != world_size:
        problems.append(Problem(
            f"world size {world_size} != tp*pp*dp = {layout.tp}*{layout.pp}*{layout.dp} = "
            f"{layout.tp * layout.pp * layout.dp}",
            f"use dp={world_size // per_replica} (or leave dp out: it is derived from the world size), "
            f"or launch {layout.tp * layout.pp * layout.dp} processes"))


def _check_model_shape(layout: Layout, model_config: Any, problems: list[Problem]) -> None:
    heads = _config_value(model_config, "num_attention_heads")
    kv_heads = _config_value(model_config, "num_key_value_heads") or heads
    width = _config_value(model_config, "intermediate_size")
    layers = _config_value(model_config, "num_hidden_layers")
    if layout.tp > 1 and None not in (heads, width):
        ok = valid_tp_sizes(model_config)
        for label, value in (("num_attention_heads", heads), ("num_key_value_heads", kv_heads),
                             ("intermediate_size", width)):
            if value % layout.tp:
                problems.append(Problem(
                    f"tp={layout.tp} does not divide the model's {label} = {value}: each TP rank must hold "
                    f"whole attention heads and an equal slice of the MLP",
                    f"use tp in {ok} for this model (the common divisors of q heads {heads}, "
                    f"kv heads {kv_heads} and MLP width {width})"))
    if layers is not None and layout.pp > layers:
        problems.append(Problem(
            f"pp={layout.pp} is more pipeline stages than the model has decoder layers ({layers}); "
            f"some stages would hold no layer",
            f"use pp <= {layers}"))


def _check_zero(layout: Layout, problems: list[Problem]) -> None:
    stage = layout.zero_stage
    if stage not in (0, 1, 2, 3):
        problems.append(Problem(f"zero={stage} is not a ZeRO stage", "use zero=0, 1, 2 or 3"))
        return
    if layout.pp > 1 and stage >= 2:
        problems.append(Problem(
            f"ZeRO-{stage} with pipeline parallelism (pp={layout.pp}): DeepSpeed's pipeline engine stops at "
            f"start-up ('ZeRO-2 and ZeRO-3 are incompatible with pipeline parallelism')",
            "use zero=1 (optimizer state sharded over the dp replicas)"))
    if layout.offload_param and stage != 3:
        problems.append(Problem(
            f"offload=param with ZeRO-{stage}: only ZeRO-3 partitions parameters, so DeepSpeed silently "
            f"keeps them on the device and ignores offload_param",
            "use zero=3 to offload parameters, or offload=optimizer to offload only the optimizer state"))
    if layout.offload_optimizer and stage == 0:
        problems.append(Problem(
            "offload=optimizer with ZeRO-0: optimizer offload is part of ZeRO, and DeepSpeed ignores it "
            "without a ZeRO stage",
            "use zero=1 or higher with offload=optimizer, or drop the offload"))
    # AutoTP (tp > 1, pp == 1) runs with every ZeRO stage, 3 included: measured here through the HF
    # Trainer on 2 ranks, losses and saved weights equal to one process. ZeRO-3 only needs
    # train_batch_size left out of the DeepSpeed config (see ds_check).
