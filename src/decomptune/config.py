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
    seed: int = 42
    resume_from_checkpoint: str | None = None
    dataloader_shuffle: bool = True


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
