"""Run by tests/test_pipeline_*.py under torchrun: one launch checks one layout.

1. SGD: train a tiny GQA Llama for N steps in the given tp x pp x dp layout (weights
   sliced on load from an HF safetensors model, padding in every batch, clipping that
   clips), export the final model, take the sharded model's logits on a fixed batch;
2. AdamW: train the same steps, saving a checkpoint mid-way;
3. AdamW resumed from that checkpoint in a fresh engine, trained to the end;
4. rank 0 alone: the same steps as one process computing one loss per step over the
   whole batch, for SGD and AdamW; compare losses, final weights, logits.
Results go to <workdir>/result.json for the test to assert on.
"""
from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import torch


def parse():
    p = argparse.ArgumentParser()
    p.add_argument("--tp", type=int, default=1)
    p.add_argument("--pp", type=int, default=1)
    p.add_argument("--clip", type=float, default=0.5)
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--resume_at", type=int, default=3)
    p.add_argument("--micro_batches", type=int, default=2)
    p.add_argument("--partition", default="parameters")
    p.add_argument("--tie", action="store_true")
    p.add_argument("--activation_checkpointing", action="store_true")
    p.add_argument("--workdir", required=True)
    return p.parse_args()


VOCAB, PAD = 256, 0


def synthetic_rows(n: int, seed: int = 0) -> list[dict]:
    """Varied lengths (so every micro-batch pads) with the prompt part masked by -100."""
    g = torch.Generator().manual_seed(seed)
    rows = []
    for _ in range(n):
        length = int(torch.randint(6, 21, (1,), generator=g))
        prompt = int(torch.randint(2, length - 2, (1,), generator=g))
        ids = torch.randint(3, VOCAB, (length,), generator=g).tolist()
        rows.append({"input_ids": ids, "labels": [-100] * prompt + ids[prompt:]})
    return rows


def collate(rows: list[dict]) -> dict:
    """Right padding to a multiple of 8, as decomptune's collator does."""
    longest = max(len(r["input_ids"]) for r in rows)
    width = -(-longest // 8) * 8
    ids = torch.full((len(rows), width), PAD)
    labels = torch.full((len(rows), width), -100)
    mask = torch.zeros((len(rows), width), dtype=torch.long)
    for i, r in enumerate(rows):
        n = len(r["input_ids"])
        ids[i, :n] = torch.tensor(r["input_ids"])
        labels[i, :n] = torch.tensor(r["labels"])
        mask[i, :n] = 1
    return {"input_ids": ids, "attention_mask": mask, "labels": labels}


LR = {"sgd": 0.5, "adamw_torch": 1e-2}


def run_config(args, workdir: Path, output: str, optim: str, resume: str | None = None):
    from decomptune.config import RunConfig

    cfg = RunConfig()
    cfg.model.model_name_or_path = str(workdir / "init")
    cfg.train.output_dir = str(workdir / output)
    cfg.train.max_steps = args.steps
    cfg.train.per_device_train_batch_size = 2
    cfg.train.learning_rate = LR[optim]
    cfg.train.max_grad_norm = args.clip
    cfg.train.optim = optim
    cfg.train.weight_decay = 0.01
    cfg.train.lr_scheduler_type = "linear"  # a changing lr: resume must restore the scheduler
    cfg.train.save_steps = args.resume_at
    cfg.train.save_strategy = "steps" if optim == "adamw_torch" else "no"  # the final one is always saved
    cfg.train.logging_steps = 0
    cfg.train.resume_from_checkpoint = resume
    cfg.layout.tp, cfg.layout.pp = args.tp, args.pp
    cfg.layout.micro_batches = args.micro_batches
    cfg.layout.partition = args.partition
    cfg.model.gradient_checkpointing = args.activation_checkpointing
    return cfg


def reference_run(args, cfg, plan, rows, eval_batch):
    """One process, one loss per step over the whole (re-padded) step batch."""
    from transformers import LlamaForCausalLM

    from decomptune.train.pipeline import make_optimizer, scheduler_factory

    model = LlamaForCausalLM.from_pretrained(cfg.model.model_name_or_path, attn_implementation="sdpa")
    model.train()
    optimizer = make_optimizer(cfg, model)
    scheduler = scheduler_factory(cfg, args.steps)(optimizer)
    losses, norms = [], []
    for step in range(args.steps):
        batch = collate([rows[i] for i in plan.rows(step)])
        loss = model(**batch).loss
        loss.backward()
        norms.append(float(torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.train.max_grad_norm)))
        optimizer.step()
        scheduler.step()
        optimizer.zero_grad()
        losses.append(loss.item())
    model.eval()
    with torch.no_grad():
        logits = model(input_ids=eval_batch["input_ids"], attention_mask=eval_batch["attention_mask"]).logits
    return model, losses, norms, logits


def main():
    args = parse()
    workdir = Path(args.workdir)
    import deepspeed
    from transformers import AutoConfig, LlamaForCausalLM

    from decomptune.models.tiny import tiny_llama_config
    from decomptune.train.pipe_data import StepPlan, pipeline_inputs
    from decomptune.train.pipeline import run_pipeline_training

    deepspeed.init_distributed(dist_backend="gloo")
    rank, world = deepspeed.comm.get_rank(), deepspeed.comm.get_world_size()
    dp = world // (args.tp * args.pp)
    if rank == 0:  # the full initial weights every layout slices from
        torch.manual_seed(1234)
        config = tiny_llama_config(vocab_size=VOCAB, pad_token_id=PAD, tie_word_embeddings=args.tie)
        LlamaForCausalLM(config).save_pretrained(workdir / "init")
    deepspeed.comm.barrier()

    per_step = 2 * args.micro_batches * dp
    rows = synthetic_rows(per_step * args.steps + 3)
    config = AutoConfig.from_pretrained(workdir / "init")
    config._attn_implementation = "sdpa"

    t0 = time.time()
    cfg = run_config(args, workdir, "run", "sgd")
    engine, metrics = run_pipeline_training(cfg, config, None, rows, collate)
    train_seconds = time.time() - t0
    parts = [int(p) for p in engine.module.parts]
    checkpoint_interval = engine.module.activation_checkpoint_interval

    eval_batch = collate(rows[:2])
    scale = torch.tensor([1.0])
    _, logits = engine.eval_batch(iter([(pipeline_inputs(eval_batch), (eval_batch["labels"], scale))]),
                                  return_logits=True, num_micro_batches=1)
    topo = engine.grid.topology()
    if rank == topo.get_rank(pipe=args.pp - 1, data=0, model=0):
        torch.save(logits, workdir / "pipeline_logits.pt")
    del engine
    deepspeed.comm.barrier()

    adam_cfg = run_config(args, workdir, "adamw", "adamw_torch")
    _, adam = run_pipeline_training(adam_cfg, config, None, rows, collate)
    step_dir = workdir / "adamw" / "checkpoints" / f"step-{args.resume_at}"
    resumed_cfg = run_config(args, workdir, "resumed", "adamw_torch", resume=str(step_dir))
    _, resumed = run_pipeline_training(resumed_cfg, config, None, rows, collate)
    deepspeed.comm.barrier()
    if rank != 0:
        return

    plan = StepPlan(len(rows), 2, args.micro_batches, dp, cfg.train.seed, True)
    ref_model, ref_losses, ref_norms, ref_logits = reference_run(args, cfg, plan, rows, eval_batch)
    adam_ref, adam_ref_losses, _, _ = reference_run(args, adam_cfg, plan, rows, eval_batch)
    adam_exported = LlamaForCausalLM.from_pretrained(workdir / "adamw").state_dict()
    exported = LlamaForCausalLM.from_pretrained(workdir / "run", attn_implementation="sdpa").eval()
    ref_state, exp_state = ref_model.state_dict(), exported.state_dict()
    init_state = LlamaForCausalLM.from_pretrained(workdir / "init").state_dict()
    with torch.no_grad():
        exp_logits = exported(input_ids=eval_batch["input_ids"], attention_mask=eval_batch["attention_mask"]).logits
    pipe_logits = torch.load(workdir / "pipeline_logits.pt")
    real = eval_batch["attention_mask"].bool()  # pad positions' logits are never used
    result = {
        "layout": {"tp": args.tp, "pp": args.pp, "dp": dp, "world": world},
        "losses": metrics["losses"],
        "ref_losses": ref_losses,
        "grad_norms": [h["grad_norm"] for h in metrics["history"]],
        "ref_grad_norms": ref_norms,
        "clip": args.clip,
        "max_loss_diff": max(abs(a - b) for a, b in zip(metrics["losses"], ref_losses)),
        "max_weight_diff": max(float((ref_state[k] - exp_state[k]).abs().max()) for k in ref_state),
        "same_weight_names": sorted(ref_state) == sorted(exp_state),
        "weight_change": max(float((v - init_state[k]).abs().max()) for k, v in exp_state.items()),
        "export_vs_pipeline_logits": float((exp_logits[real] - pipe_logits[real]).abs().max()),
        "export_vs_reference_logits": float((exp_logits[real] - ref_logits[real]).abs().max()),
        "parts": parts,
        "activation_checkpoint_interval": checkpoint_interval,
        "adamw_losses": adam["losses"],
        "adamw_ref_losses": adam_ref_losses,
        "adamw_max_loss_diff": max(abs(a - b) for a, b in zip(adam["losses"], adam_ref_losses)),
        "adamw_max_weight_diff": max(float((v - adam_exported[k]).abs().max())
                                     for k, v in adam_ref.state_dict().items()),
        "resumed_losses": resumed["losses"],
        "uninterrupted_tail": adam["losses"][args.resume_at:],
        "train_seconds": train_seconds,
    }
    (workdir / "result.json").write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    os.environ.setdefault("TORCH_EXTENSIONS_DIR", "/work/main/.cache/torch_extensions")
    main()
