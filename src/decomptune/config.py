"""One dataclass tree for a training run: model, data, train, layout.

Loaded from YAML (sections model/data/train/layout) with command-line overrides; the
seed tutorial's flat flags (--model_name_or_path, --data_path, ...) are accepted as-is.
"""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class ModelArgs:
    # "tiny" = the embedded default: a tiny Llama (GQA) built from a config + our tokenizer.
    model_name_or_path: str = "tiny"
    tokenizer_name_or_path: str | None = None  # default: the model's own (or ours for "tiny")
    use_flash_attention: bool = False
    gradient_checkpointing: bool = False


@dataclass
class DataArgs:
    # "sample" = the sample pairs shipped in the package.
    data_path: str = "sample"
    validation_path: str | None = None
    input_column: str = "instruction"
    output_column: str = "output"
    prompt_template: str = "decompiled"
    model_max_length: int = 1024
    # What to do with rows longer than model_max_length: "drop" them, or
    # "truncate_prompt_left" (cut the prompt from the left, never the target).
    overlong_policy: str = "drop"
    skip_bad_rows: bool = False
    num_proc: int = 1
    max_rows: int | None = None
    # Fill rows of model_max_length with whole examples, no attention between them (data/packing.py).
    packing: bool = False
    # Cheaper alternative: batch examples of similar length together (less padding, no packing).
    group_by_length: bool = False


@dataclass
class TrainArgs:
    output_dir: str = "runs/default"
    num_train_epochs: float = 1.0
    max_steps: int = -1
    per_device_train_batch_size: int = 4
    gradient_accumulation_steps: int = 1
    learning_rate: float = 2e-5
    max_grad_norm: float = 1.0
    weight_decay: float = 0.0
    warmup_ratio: float = 0.0
    lr_scheduler_type: str = "cosine"
    optim: str = "adamw_torch"
    logging_steps: int = 10
    save_strategy: str = "steps"
    save_steps: int = 500
    save_total_limit: int | None = None
    report_to: str = "none"
    bf16: bool = False
    deepspeed: str | None = None  # a user ds.json; checked before use
    # false = plain PyTorch (DDP on several processes), the reference the layouts are tested against
    use_deepspeed: bool = True
    seed: int = 42
    resume_from_checkpoint: str | None = None
    # "auto" = the newest complete checkpoint in output_dir (none: start fresh), or a path.
    resume: str | None = None
    # Seconds a collective may wait for a missing rank before the run stops with an error.
    dist_timeout: int = 1800
    # Seconds without a heartbeat after which a rank is declared dead and the run stops (0 = off).
    dead_rank_timeout: int = 60
    dataloader_shuffle: bool = True
    # Re-executability during training (issue 4): every N steps, rank 0 scores K rows.
    eval_benchmark: str | None = None
    eval_every: int = 0
    eval_limit: int = 16


@dataclass
class LayoutArgs:
    tp: int = 1
    pp: int = 1
    zero_stage: int = 1
    offload_optimizer: bool = False
    offload_param: bool = False
    micro_batches: int | None = None  # pipeline: micro-batches per step (default: grad accumulation)
    partition: str = "parameters"  # pipeline stage split: "parameters" or "uniform"


@dataclass
class RunConfig:
    model: ModelArgs = field(default_factory=ModelArgs)
    data: DataArgs = field(default_factory=DataArgs)
    train: TrainArgs = field(default_factory=TrainArgs)
    layout: LayoutArgs = field(default_factory=LayoutArgs)


# ---------------------------------------------------------------- parsing

import argparse  # noqa: E402
import dataclasses  # noqa: E402
import types  # noqa: E402
import typing  # noqa: E402
from pathlib import Path  # noqa: E402

import yaml  # noqa: E402

SECTIONS = {"model": ModelArgs, "data": DataArgs, "train": TrainArgs, "layout": LayoutArgs}

# Flags of the seed tutorial's train.sh that map onto ours under another name, and
# flags that HF removed in transformers 5 (the tutorial still passes them).
FLAG_ALIASES = {
    "evaluation_strategy": None,  # no periodic loss-eval in this trainer; accepted and ignored with a note
    "eval_strategy": None,
    "tf32": None,
    "fp16": "fp16",
}


class ConfigError(ValueError):
    """A config file or flag that cannot be used; the message says which and how to fix it."""


def _field_type(cls, f: dataclasses.Field):
    hint = typing.get_type_hints(cls)[f.name]
    args = [a for a in typing.get_args(hint) if a is not type(None)]
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        return args[0], True
    return hint, False


def _to_bool(text: str | bool) -> bool:
    if isinstance(text, bool):
        return text
    low = str(text).strip().lower()
    if low in ("1", "true", "yes", "y", "on"):
        return True
    if low in ("0", "false", "no", "n", "off"):
        return False
    raise argparse.ArgumentTypeError(f"expected true/false, got {text!r}")


def _convert(value, typ, optional: bool, where: str):
    if value is None or (optional and isinstance(value, str) and value.lower() in ("none", "null")):
        if optional:
            return None
        raise ConfigError(f"{where}: a value is required")
    try:
        if typ is bool:
            return _to_bool(value)
        if typ is int:
            if isinstance(value, float) and not value.is_integer():
                raise ValueError(value)
            return int(value)
        if typ is float:
            return float(value)
        return str(value)
    except (ValueError, argparse.ArgumentTypeError) as exc:
        raise ConfigError(f"{where}: cannot read {value!r} as {typ.__name__}") from exc


def _all_fields():
    for section, cls in SECTIONS.items():
        for f in dataclasses.fields(cls):
            typ, optional = _field_type(cls, f)
            yield section, cls, f, typ, optional


def apply_mapping(cfg: RunConfig, mapping: dict, source: str) -> None:
    """Apply {'model': {...}, 'train': {...}} (YAML form) onto cfg, refusing unknown keys."""
    if not isinstance(mapping, dict):
        raise ConfigError(f"{source}: expected a mapping with sections {sorted(SECTIONS)}")
    for section, values in mapping.items():
        if section not in SECTIONS:
            raise ConfigError(f"{source}: unknown section {section!r}; use one of {sorted(SECTIONS)}")
        if values is None:
            continue
        if not isinstance(values, dict):
            raise ConfigError(f"{source}: section {section!r} must be a mapping of key: value")
        target = getattr(cfg, section)
        known = {f.name: f for f in dataclasses.fields(target)}
        for key, value in values.items():
            if key not in known:
                raise ConfigError(
                    f"{source}: unknown key {section}.{key}; known keys: {', '.join(sorted(known))}"
                )
            typ, optional = _field_type(type(target), known[key])
            setattr(target, key, _convert(value, typ, optional, f"{source}: {section}.{key}"))


def load_yaml(path: str | Path) -> dict:
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"config file {path} not found; presets live in configs/ (e.g. configs/tiny-cpu.yaml)")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from exc
    return data or {}


def build_parser(prog: str = "decomptune train") -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=prog, description="Fine-tune a causal LM on (decompiled code -> source) pairs.")
    p.add_argument("--config", help="YAML file with sections model/data/train/layout; flags override it")
    p.add_argument("--layout", help="e.g. 'tp=2,pp=2,zero=1,offload=optimizer' or 'auto'")
    p.add_argument("--nproc_per_node", type=int, default=None,
                   help="spawn this many local processes with torchrun (when not already launched)")
    p.add_argument("--check_only", action="store_true", help="validate everything, print the plan, train nothing")
    p.add_argument("--debug", action="store_true", help="show Python tracebacks for errors")
    # The deepspeed launcher appends --local_rank=N; the rank comes from the environment.
    p.add_argument("--local_rank", type=int, default=None, help=argparse.SUPPRESS)
    for section, _cls, f, typ, optional in _all_fields():
        kwargs = dict(dest=f"{section}.{f.name}", default=argparse.SUPPRESS, help=f"[{section}]")
        if typ is bool:
            kwargs.update(nargs="?", const=True, type=_to_bool, metavar="BOOL")
        else:
            kwargs.update(type=str, metavar=typ.__name__.upper())
        p.add_argument(f"--{f.name}", **kwargs)
    for alias, target in FLAG_ALIASES.items():
        p.add_argument(f"--{alias}", dest=f"alias.{alias}", default=argparse.SUPPRESS, nargs="?", const="true")
    return p


def parse_args(argv: list[str] | None) -> tuple[RunConfig, argparse.Namespace, list[str]]:
    """Returns (config, raw namespace, notes). Precedence: defaults < YAML < flags."""
    parser = build_parser()
    ns = parser.parse_args(argv)
    cfg = RunConfig()
    notes: list[str] = []
    if ns.config:
        apply_mapping(cfg, load_yaml(ns.config), ns.config)
    overrides: dict[str, dict] = {}
    for dest, value in vars(ns).items():
        if dest.startswith("alias."):
            name = dest.split(".", 1)[1]
            if name == "fp16" and _to_bool(value):
                raise ConfigError("--fp16 is not supported: use --bf16 (fp16 overflows on 7B fine-tunes; bf16 does not)")
            if FLAG_ALIASES[name] is None:
                notes.append(f"--{name} {value} accepted and ignored: this trainer has no periodic loss-eval; "
                             "use --eval_benchmark/--eval_every for re-executability during training")
            continue
        if "." in dest:
            section, key = dest.split(".", 1)
            overrides.setdefault(section, {})[key] = value
    apply_mapping(cfg, overrides, "command line")
    check_report_to(cfg.train.report_to)
    return cfg, ns, notes


def check_report_to(text: str | None) -> None:
    from .train.reporting import parse_report_to  # stdlib-only module: cheap to import here

    try:
        parse_report_to(text)
    except ValueError as exc:
        raise ConfigError(str(exc)) from exc


def to_dict(cfg: RunConfig) -> dict:
    return dataclasses.asdict(cfg)


def save_config(cfg: RunConfig, path: str | Path) -> None:
    Path(path).write_text(yaml.safe_dump(to_dict(cfg), sort_keys=False), encoding="utf-8")
