"""One rank of a per-layout memory / speed measurement on CPU (launched by torchrun).

Trains a few steps of a Llama model (random weights, saved as an HF model directory by the
driver) through the product's own training paths: the HF Trainer + DeepSpeed for ZeRO and
AutoTP layouts, the pipeline engine for pp > 1. It measures, on every rank:

- anon_peak_gb: peak anonymous resident memory (heap and mmap'd tensors; not the shared
  libraries and mapped files) minus the same before the model was loaded, sampled every
  2 ms from /proc/self/status by a thread, from the first batch to the end of the last
  step, so the one-off copies made while the model is loaded and sharded are not counted
  but everything training holds (weights, gradients, optimizer state, buckets) is;
- tokens_per_s: real tokens / wall time of the steps after the first.

The driver runs it with MALLOC_MMAP_THRESHOLD_ set, so a freed tensor goes back to the
OS at once and resident memory follows the live tensors.
Writes OUT/rank<r>.json.
"""
from __future__ import annotations

import argparse
import json
import os
import sys
import threading
import time
from pathlib import Path


def anon_kb() -> int:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("RssAnon:"):
                return int(line.split()[1])
    raise RuntimeError("no RssAnon in /proc/self/status (Linux only)")


class PeakSampler:
    def __init__(self, every_s: float = 0.002):
        self.every_s, self.peak, self.running = every_s, 0, False
        self.thread = threading.Thread(target=self._run, daemon=True)

    def start(self):
        if not self.running:
            self.running = True
            self.peak = anon_kb()
            self.thread.start()

    def _run(self):
        while self.running:
            self.peak = max(self.peak, anon_kb())
            time.sleep(self.every_s)

    def stop(self) -> int:
        self.running = False
        self.thread.join()
        return max(self.peak, anon_kb())


class ProbeCollator:
    """Starts the sampler at the first batch (after every engine is built) and times steps."""

    def __init__(self, inner, sampler):
        self.inner, self.sampler, self.calls, self.first_t = inner, sampler, 0, None
        self.tokens = 0

    def __call__(self, features):
        self.sampler.start()
        self.calls += 1
        if self.calls == 2:
            self.first_t = time.perf_counter()
        if self.calls >= 2:
            self.tokens += sum(len(f["input_ids"]) for f in features)
        return self.inner(features)


def print_inventory(top: int = 25) -> None:
    """Debug aid: the live tensor storages after training, biggest first (set DECOMPTUNE_MEMORY_INVENTORY=1)."""
    import gc

    import torch

    seen = {}
    for obj in gc.get_objects():
        try:
            if isinstance(obj, torch.Tensor) and obj.device.type == "cpu":
                st = obj.untyped_storage()
                seen.setdefault(st.data_ptr(), (st.nbytes(), tuple(obj.shape), str(obj.dtype)))
        except Exception:
            continue
    rows = sorted(seen.values(), reverse=True)
    print(f"INVENTORY total {sum(r[0] for r in rows) / 2**30:.3f} GB in {len(rows)} storages", flush=True)
    for nbytes, shape, dtype in rows[:top]:
        print(f"INVENTORY {nbytes / 2**20:9.1f} MB {dtype} {shape}", flush=True)


def parse():
    p = argparse.ArgumentParser()
    p.add_argument("--model_dir", required=True)
    p.add_argument("--layout", required=True, help="e.g. zero=1 | zero=3 | tp=2,zero=1 | pp=2,zero=1")
    p.add_argument("--seq", type=int, default=64)
    p.add_argument("--micro_batch", type=int, default=1)
    p.add_argument("--steps", type=int, default=3)
    p.add_argument("--out", required=True)
    return p.parse_args()


def synthetic_rows(n: int, seq: int, vocab: int):
    import datasets
    import torch

    g = torch.Generator().manual_seed(0)
    ids = torch.randint(4, vocab, (n, seq), generator=g).tolist()
    return datasets.Dataset.from_dict({"input_ids": ids, "labels": [[-100] * (seq // 2) + r[seq // 2:] for r in ids]})


def main():
    args = parse()
    from transformers import AutoConfig, TrainerCallback

    from decomptune.config import parse_args
    from decomptune.data import DecompileCollator
    from decomptune.tokenizer import load_tokenizer
    from decomptune.train.run import make_plan

    rank, world = int(os.environ.get("RANK", 0)), int(os.environ.get("WORLD_SIZE", 1))
    out_dir = Path(args.out)
    cfg_args = ["--model_name_or_path", args.model_dir, "--per_device_train_batch_size", str(args.micro_batch),
                "--max_steps", str(args.steps), "--logging_steps", "1", "--save_strategy", "no",
                "--output_dir", str(out_dir / "run"), "--learning_rate", "1e-4", "--gradient_accumulation_steps", "1"]
    cfg, ns, _ = parse_args(cfg_args + ["--layout", args.layout])
    tokenizer = load_tokenizer(None)
    plan = make_plan(cfg, ns.layout, world, tokenizer)
    vocab = AutoConfig.from_pretrained(args.model_dir).vocab_size
    dataset = synthetic_rows(64, args.seq, min(vocab, len(tokenizer)))
    sampler = PeakSampler()
    collator = ProbeCollator(DecompileCollator(tokenizer), sampler)
    before_model_kb = anon_kb()
    steps_done = {"t_end": None}

    if plan.layout.path == "pipeline":
        import deepspeed

        from decomptune.train.pipe_data import StepPlan, micro_batch_stream
        from decomptune.train.pipeline import Grid, build_engine, micro_batch_count

        deepspeed.init_distributed(dist_backend="gloo")
        before_model_kb = anon_kb()
        grid = Grid.from_config(cfg, world)
        step_plan = StepPlan(len(dataset), args.micro_batch, micro_batch_count(cfg), grid.dp, 0, True)
        engine, _ = build_engine(cfg, plan.model_config, tokenizer, args.steps, grid)
        stream = micro_batch_stream(dataset, collator, step_plan, engine.grid.data_parallel_id)
        for _ in range(args.steps):
            engine.train_batch(data_iter=stream)
        steps_done["t_end"] = time.perf_counter()
        peak_kb = sampler.stop()
    else:
        from decomptune.train.zero import train_zero

        class StopSampler(TrainerCallback):
            def on_train_end(self, a, state, control, **kw):
                steps_done["t_end"] = time.perf_counter()
                steps_done["peak"] = sampler.stop()

        train_zero(cfg, tokenizer, dataset, collator, plan.ds_config, callbacks=[StopSampler()])
        peak_kb = steps_done["peak"]

    if os.environ.get("DECOMPTUNE_MEMORY_INVENTORY") and rank == 0:
        print_inventory()
    seconds = steps_done["t_end"] - collator.first_t if collator.first_t else float("nan")
    result = {
        "rank": rank, "world": world, "layout": str(plan.layout), "seq": args.seq, "micro_batch": args.micro_batch,
        "steps": args.steps, "anon_before_model_gb": before_model_kb / 2**20,
        "anon_peak_gb": (peak_kb - before_model_kb) / 2**20,
        "tokens_per_s_rank": collator.tokens / seconds if seconds == seconds and seconds > 0 else None,
    }
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / f"rank{rank}.json").write_text(json.dumps(result))


if __name__ == "__main__":
    sys.exit(main())
