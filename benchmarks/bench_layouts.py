"""Per-layout training on CPU, 2 processes: per-rank peak memory and tokens/s, next to the planner.

For a ~88 M-parameter Llama (hidden 768, 12 blocks, GQA 12/4 heads, MLP 2048, vocab 8192; random
weights) each layout trains a few steps through the product's own paths (benchmarks/memory_worker.py);
the planner (decomptune.parallel.plan, device="cpu": fp32) estimates the same layout. Memory is the
rise of anonymous resident memory over the process's level before the model was loaded, at its
peak during training (see the worker). Prints a table and writes benchmarks/results/layouts.json.

    .venv/bin/python benchmarks/bench_layouts.py [--quick]
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results"
WORKER = REPO / "benchmarks" / "memory_worker.py"

# ~88 M parameters: big enough that model states dwarf allocator noise, small enough for 2 cores.
BENCH_SHAPE = dict(hidden_size=768, intermediate_size=2048, num_hidden_layers=12, num_attention_heads=12,
                   num_key_value_heads=4, vocab_size=8192)
LAYOUTS = {  # name: (--layout, tp, pp, zero)
    "zero1": ("zero=1", 1, 1, 1),
    "zero2": ("zero=2", 1, 1, 2),
    "zero3": ("zero=3", 1, 1, 3),
    "tp2": ("tp=2,zero=1", 2, 1, 1),
    "pp2": ("pp=2,zero=1", 1, 2, 1),
}


def make_model_dir(path: Path, shape: dict) -> Path:
    import torch
    from transformers import LlamaConfig, LlamaForCausalLM

    if (path / "config.json").exists():
        return path
    torch.manual_seed(0)
    config = LlamaConfig(max_position_embeddings=2048, tie_word_embeddings=False, pad_token_id=2,
                         bos_token_id=0, eos_token_id=1, **shape)
    LlamaForCausalLM(config).save_pretrained(path)
    return path


def measure(model_dir: Path, layout: str, workdir: Path, nproc: int = 2, seq: int = 64, steps: int = 3,
            micro_batch: int = 1, timeout: int = 900) -> list[dict]:
    """Launch the worker on nproc CPU ranks; per-rank result dicts."""
    env = dict(os.environ)
    env.pop("LOCAL_SIZE", None)
    env.update(OMP_NUM_THREADS="1", HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false",
               MALLOC_MMAP_THRESHOLD_="65536",  # freed tensors go back to the OS: RSS follows live tensors
               TORCH_EXTENSIONS_DIR=env.get("TORCH_EXTENSIONS_DIR", str(REPO / ".cache" / "torch_extensions")))
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}", str(WORKER),
           "--model_dir", str(model_dir), "--layout", layout, "--seq", str(seq), "--steps", str(steps),
           "--micro_batch", str(micro_batch), "--out", str(workdir)]
    done = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=timeout)
    if done.returncode != 0:
        raise RuntimeError(f"worker failed ({done.returncode}) for {layout}:\n{(done.stdout + done.stderr)[-5000:]}")
    return [json.loads((workdir / f"rank{r}.json").read_text()) for r in range(nproc)]


def planner_estimate(model_dir: Path, tp: int, pp: int, zero: int, nproc: int, seq: int, micro_batch: int):
    from decomptune.parallel.plan import Candidate, Hardware, estimate, load_shape

    shape, _ = load_shape(str(model_dir))
    cand = Candidate(tp=tp, pp=pp, dp=nproc // (tp * pp), zero=zero, micro_batch=micro_batch, micro_batches=1)
    return shape, estimate(shape, cand, Hardware.cpu(nproc), seq)


def compare(model_dir: Path, name: str, layout: str, tp: int, pp: int, zero: int, workdir: Path,
            seq: int = 64, steps: int = 3, micro_batch: int = 1) -> dict:
    ranks = measure(model_dir, layout, workdir, seq=seq, steps=steps, micro_batch=micro_batch)
    shape, est = planner_estimate(model_dir, tp, pp, zero, len(ranks), seq, micro_batch)
    gb = 1024 ** 3
    measured = max(r["anon_peak_gb"] for r in ranks)
    predicted = est.memory.total / gb
    dp = len(ranks) // (tp * pp)
    tps = ranks[0]["tokens_per_s_rank"]
    return {
        "name": name, "layout": layout, "params": shape.total_params(),
        "measured_peak_gb_per_rank": [round(r["anon_peak_gb"], 3) for r in ranks],
        "measured_gb": round(measured, 3),
        "planner_gb": {k: round(v / gb, 3) for k, v in vars(est.memory).items()} | {"total": round(predicted, 3)},
        "planner_error": round((predicted - measured) / measured, 4),
        "tokens_per_s": round(tps * dp, 1) if tps else None,
        "planner_tokens_per_s": round(est.tokens_per_s, 1),
    }


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--quick", action="store_true", help="zero1 and pp2 only")
    p.add_argument("--steps", type=int, default=4)
    p.add_argument("--seq", type=int, default=64)
    args = p.parse_args(argv)
    names = ["zero1", "pp2"] if args.quick else list(LAYOUTS)
    rows = []
    with tempfile.TemporaryDirectory(prefix="bench-layouts-") as tmp:
        model_dir = make_model_dir(Path(tmp) / "model", BENCH_SHAPE)
        for name in names:
            layout, tp, pp, zero = LAYOUTS[name]
            t0 = time.time()
            row = compare(model_dir, name, layout, tp, pp, zero, Path(tmp) / name, seq=args.seq, steps=args.steps)
            row["wall_s"] = round(time.time() - t0, 1)
            rows.append(row)
            print(f"{name}: measured {row['measured_gb']:.3f} GB, planner {row['planner_gb']['total']:.3f} GB "
                  f"({row['planner_error']:+.1%}), {row['tokens_per_s']} tokens/s", flush=True)
    print()
    print(f"{'layout':<14} {'measured GB/rank':>18} {'planner GB':>11} {'states':>7} {'buffers':>8} {'activ':>6} "
          f"{'error':>7} {'tokens/s':>9} {'plan tok/s':>10}")
    for r in rows:
        g = r["planner_gb"]
        states = g["params"] + g["grads"] + g["optimizer"]
        print(f"{r['layout']:<14} {str(r['measured_peak_gb_per_rank']):>18} {g['total']:>11.3f} {states:>7.3f} "
              f"{g['buffers']:>8.3f} {g['activations']:>6.3f} {r['planner_error']:>+7.1%} {r['tokens_per_s'] or 0:>9.0f} "
              f"{r['planner_tokens_per_s']:>10.0f}")
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / "layouts.json"
    out.write_text(json.dumps({"shape": BENCH_SHAPE, "nproc": 2, "seq": args.seq, "steps": args.steps,
                               "rows": rows}, indent=1))
    print(f"\nwrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
