"""Path 2: DeepSpeed's pipeline engine with tensor parallelism inside each stage (pp x tp x dp).

Runs inside a torchrun/deepspeed-launched process group. One step = `micro_batches`
micro-batches per data-parallel replica through `engine.train_batch()`; its loss and
gradient equal a single process averaging the loss over every target token of the step.
"""
from __future__ import annotations

import logging
import math
import os
import time
from dataclasses import dataclass

import torch
from torch import nn

from ..config import RunConfig, to_dict
from ..models import llama
from .pipe_data import StepPlan, micro_batch_stream
from .progress import TrainProgress
from .reporting import MetricSinks, StepMeter, batch_token_counts

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Grid:
    tp: int
    pp: int
    dp: int

    @classmethod
    def from_config(cls, cfg: RunConfig, world_size: int) -> "Grid":
        tp, pp = cfg.layout.tp, cfg.layout.pp
        if world_size % (tp * pp):
            raise ValueError(f"world size {world_size} is not a multiple of tp x pp = {tp * pp}; "
                             f"launch a multiple of {tp * pp} processes")
        return cls(tp, pp, world_size // (tp * pp))


def micro_batch_count(cfg: RunConfig) -> int:
    return cfg.layout.micro_batches or cfg.train.gradient_accumulation_steps


def pipeline_ds_config(cfg: RunConfig, grid: Grid) -> dict:
    if cfg.layout.offload_optimizer or cfg.layout.offload_param:
        raise ValueError("offload is not supported in the pipeline path (pp > 1); "
                         "drop offload or use pp=1 (the ZeRO path)")
    if cfg.layout.zero_stage > 1:
        raise ValueError(f"ZeRO-{cfg.layout.zero_stage} cannot run with pipeline parallelism "
                         "(DeepSpeed refuses it); use zero=1")
    micro = cfg.train.per_device_train_batch_size
    steps = micro_batch_count(cfg)
    return {
        "train_micro_batch_size_per_gpu": micro,
        "gradient_accumulation_steps": steps,
        "train_batch_size": micro * steps * grid.dp,
        "gradient_clipping": cfg.train.max_grad_norm,
        # ZeRO-1 even without DP: at ZeRO-0 DeepSpeed's pipeline clipping counts only the
        # first stage's replicated parameters. ZeRO-1's norm sums over stages and TP ranks.
        "zero_optimization": {"stage": 1},
        "zero_allow_untested_optimizer": True,
        # Partitioned activations cache their shape once; our micro-batch shapes vary.
        # Activation checkpointing (model.gradient_checkpointing): the non-reentrant kind,
        # as the ZeRO path uses; it does not depend on stage inputs requiring grad.
        "pipeline": {"pipe_partitioned": False, "grad_partitioned": False, "use_reentrant": False},
        "bf16": {"enabled": bool(cfg.train.bf16 and torch.cuda.is_available())},
        "steps_per_print": 10**9,
        "wall_clock_breakdown": False,
    }


def make_optimizer(cfg: RunConfig, model: nn.Module) -> torch.optim.Optimizer:
    # As the HF Trainer does: no weight decay on biases and norm weights (the 1-D tensors).
    params = [p for p in model.parameters() if p.requires_grad]
    groups = [
        {"params": [p for p in params if p.ndim > 1], "weight_decay": cfg.train.weight_decay},
        {"params": [p for p in params if p.ndim <= 1], "weight_decay": 0.0},
    ]
    groups = [g for g in groups if g["params"]]
    name = cfg.train.optim
    if name.startswith("adamw"):
        return torch.optim.AdamW(groups, lr=cfg.train.learning_rate)
    if name == "sgd":
        return torch.optim.SGD(groups, lr=cfg.train.learning_rate)
    raise ValueError(f"optim={name!r} is not supported by the pipeline path; use adamw_torch or sgd")


def scheduler_factory(cfg: RunConfig, total_steps: int):
    from transformers import get_scheduler

    warmup = round(cfg.train.warmup_ratio * total_steps)
    return lambda optimizer: get_scheduler(cfg.train.lr_scheduler_type, optimizer,
                                           num_warmup_steps=warmup, num_training_steps=total_steps)


def total_steps(cfg: RunConfig, plan: StepPlan) -> int:
    if cfg.train.max_steps > 0:
        return cfg.train.max_steps
    plan.rows(0)  # refuses a dataset smaller than one step
    return max(1, math.ceil(cfg.train.num_train_epochs * plan.steps_per_epoch))


def initial_weights(cfg: RunConfig, model_config_or_model, tokenizer):
    """(model config, weight source) for slice-on-load; see models.llama.weight_source."""
    if isinstance(model_config_or_model, nn.Module):
        return model_config_or_model.config, llama.weight_source(model_config_or_model)
    name = cfg.model.model_name_or_path
    if os.path.isdir(name):  # each rank reads only its own stage's tensors
        from ..models.loading import attention_implementation

        config = model_config_or_model
        config._attn_implementation = attention_implementation(cfg.model)
        return config, llama.weight_source(name)
    from ..models.loading import load_model  # "tiny" (seeded init) or a hub name

    model = load_model(cfg.model, tokenizer, seed=cfg.train.seed)
    return model.config, llama.weight_source(model)


def tensor_parallel_group(topology, tp: int):
    """This rank's group of the topology's 'model' axis (every rank creates every group)."""
    import deepspeed.comm as dist

    mine = None
    for ranks in topology.get_axis_comm_lists("model"):
        group = dist.new_group(ranks=ranks)
        if dist.get_rank() in ranks:
            mine = group
    return mine if tp > 1 else None


def build_engine(cfg: RunConfig, model_config_or_model, tokenizer, num_steps: int, grid: Grid):
    import deepspeed
    from deepspeed.module_inject.layers import set_autotp_mode
    from deepspeed.runtime.pipe.topology import PipeModelDataParallelTopology

    config, source = initial_weights(cfg, model_config_or_model, tokenizer)
    llama.check_tensor_parallel(config, grid.tp)
    if grid.pp > config.num_hidden_layers:
        raise ValueError(f"pp={grid.pp} exceeds the model's {config.num_hidden_layers} decoder layers")
    set_autotp_mode(training=True)  # else DeepSpeed's TP linears freeze their weights
    topology = PipeModelDataParallelTopology(num_pp=grid.pp, num_mp=grid.tp, num_dp=grid.dp)
    tp_group = tensor_parallel_group(topology, grid.tp)
    torch.manual_seed(cfg.train.seed)
    pipe = llama.build_pipeline_module(config, topology, tp_group, cfg.layout.partition,
                                       checkpoint_activations=cfg.model.gradient_checkpointing)
    tp_rank = topology.get_coord(deepspeed.comm.get_rank()).model
    llama.load_stage_weights(pipe, config, source, grid.tp, tp_rank)
    del source
    engine, _, _, _ = deepspeed.initialize(
        model=pipe,
        optimizer=make_optimizer(cfg, pipe),
        lr_scheduler=scheduler_factory(cfg, num_steps),
        config=pipeline_ds_config(cfg, grid),
    )
    return engine, config


def counted(stream, meter: StepMeter):
    """The micro-batch stream, adding each batch's real and padded token counts to meter."""
    for inputs, target in stream:
        mask = inputs[1]
        # Packed rows travel with an all-ones mask; their real tokens are counted from the labels.
        counts = {"input_ids": inputs[0], "labels": target[0]}
        if mask is not None and not bool(mask.all()):
            counts["attention_mask"] = mask
        meter.add(*batch_token_counts(counts))
        yield inputs, target


def run_pipeline_training(cfg: RunConfig, model_config_or_model, tokenizer, train_dataset, collator):
    """Train; returns (engine, metrics). train_pipeline() is the entry the trainer uses."""
    import deepspeed

    from .. import checkpoint

    from datetime import timedelta

    deepspeed.init_distributed(dist_backend="nccl" if torch.cuda.is_available() else "gloo",
                               timeout=timedelta(seconds=cfg.train.dist_timeout))
    world = deepspeed.comm.get_world_size()
    grid = Grid.from_config(cfg, world)
    plan = StepPlan(len(train_dataset), cfg.train.per_device_train_batch_size, micro_batch_count(cfg),
                    grid.dp, cfg.train.seed, cfg.train.dataloader_shuffle)
    num_steps = total_steps(cfg, plan)
    engine, config = build_engine(cfg, model_config_or_model, tokenizer, num_steps, grid)
    ckpt_root = checkpoint.checkpoint_root(cfg.train.output_dir)

    first_step = 0
    if cfg.train.resume_from_checkpoint:
        first_step = checkpoint.load_pipeline_checkpoint(engine, cfg.train.resume_from_checkpoint)
    stream = micro_batch_stream(train_dataset, collator, plan, engine.grid.data_parallel_id, first_step)
    # Tokens are counted where batches enter the pipeline, once per replica (first stage,
    # tensor-parallel rank 0), and summed over ranks at each log.
    meter = StepMeter()
    counting = engine.is_first_stage() and engine.grid.get_slice_parallel_rank() == 0
    stream = counted(stream, meter) if counting else stream

    rank0 = deepspeed.comm.get_rank() == 0
    if rank0:
        log.info("pipeline: tp=%d pp=%d dp=%d, %d micro-batches of %d per replica per step, steps %d..%d",
                 grid.tp, grid.pp, grid.dp, plan.micro_batches, plan.micro_batch_size, first_step + 1, num_steps)
    sinks = MetricSinks(cfg.train.output_dir, cfg.train.report_to, to_dict(cfg), first_step) if rank0 else None
    progress = TrainProgress(num_steps, first_step, enabled=rank0)
    history, interval, start = [], [], time.time()
    try:
        for step in range(first_step, num_steps):
            loss = engine.train_batch(data_iter=stream)
            record = {"step": step + 1, "loss": float(loss), "learning_rate": engine.get_lr()[0],
                      "grad_norm": float(engine.get_global_grad_norm() or 0.0)}
            history.append(record)
            interval.append(record["loss"])
            progress.update(step + 1)
            done = step + 1 == num_steps
            if cfg.train.logging_steps and ((step + 1) % cfg.train.logging_steps == 0 or done):
                counts = torch.tensor(meter.local_counts(), dtype=torch.long, device=engine.device)
                deepspeed.comm.all_reduce(counts)  # every rank logs in step, so this cannot hang
                if rank0:  # as HF's Trainer logs: the loss averaged over the steps since the last log
                    logs = {"loss": sum(interval) / len(interval), "grad_norm": record["grad_norm"],
                            "learning_rate": record["learning_rate"], "epoch": (step + 1) / plan.steps_per_epoch,
                            **meter.interval(counts.tolist())}
                    sinks.log(step + 1, logs)
                    progress.show(logs)
                else:
                    meter.interval(counts.tolist())  # resets the local counts
                interval = []
            if done or (cfg.train.save_strategy == "steps" and cfg.train.save_steps
                        and (step + 1) % cfg.train.save_steps == 0):
                checkpoint.save_pipeline_checkpoint(engine, ckpt_root, step + 1, config, grid, tokenizer,
                                                    cfg.data.prompt_template, keep=cfg.train.save_total_limit)
        if rank0 and history:
            sinks.log(num_steps, {"train_runtime": round(time.time() - start, 3),
                                  "train_loss": sum(r["loss"] for r in history) / len(history)})
    finally:
        progress.close()
        if sinks is not None:
            sinks.close()

    deepspeed.comm.barrier()
    if rank0 and history:  # the final model, as one HF safetensors model
        checkpoint.export(ckpt_root, cfg.train.output_dir)
    deepspeed.comm.barrier()
    metrics = {
        "losses": [r["loss"] for r in history],
        "history": history,
        "train_loss": sum(r["loss"] for r in history) / max(1, len(history)),
        "train_runtime": time.time() - start,
        "global_step": num_steps,
        "layout": {"tp": grid.tp, "pp": grid.pp, "dp": grid.dp},
    }
    return engine, metrics


def train_pipeline(cfg: RunConfig, model_config_or_model, tokenizer, train_dataset, collator) -> dict:
    _, metrics = run_pipeline_training(cfg, model_config_or_model, tokenizer, train_dataset, collator)
    return metrics
