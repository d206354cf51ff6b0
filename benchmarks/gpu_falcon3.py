"""Tokens/s per GPU and MFU for the Falcon3-7B shape on one GPU (random weights, bf16).

Full fine-tuning step as one GPU runs it: forward, backward, AdamW step, over micro-batches of
`--seq-len` tokens, flash-attention 2 when installed (else PyTorch sdpa, which picks its own
flash kernel for bf16 causal attention). Weights, gradients and AdamW states are bf16 here
(8 bytes/parameter, 60 GB for 7.46 B parameters) so that the 7B shape fits on one 80 GB GPU
without offload; MFU measures the matmul throughput, which the optimizer's precision does not
change. Gradient checkpointing is switched on when the planner says activations would not fit.

MFU = model flops per second / the GPU's peak dense bf16 flops. Model flops per token are the
planner's (decomptune.parallel.plan): 6 x matmul parameters + 6 x layers x seq_len x attention
width (causal attention); recomputation under checkpointing is not counted as useful work.

    python benchmarks/gpu_falcon3.py                      # on a GPU machine
    python benchmarks/gpu_falcon3.py --layers 8           # a smaller GPU: fewer blocks, same width
    python benchmarks/gpu_falcon3.py --dry-run            # CPU, tiny shape: checks the script runs

Writes benchmarks/results/gpu_falcon3.json (or gpu_falcon3_dryrun.json).
"""
from __future__ import annotations

import argparse
import importlib.util
import json
import sys
import time
from pathlib import Path

import torch

RESULTS = Path(__file__).resolve().parent / "results"
# Peak dense bf16 TFLOP/s (no sparsity), by a substring of torch.cuda.get_device_name().
PEAK_TFLOPS = {"H200": 989.0, "GH200": 989.0, "H100 PCIe": 756.0, "H100": 989.0, "H800": 989.0, "B200": 2250.0,
               "A100": 312.0, "A800": 312.0, "L40S": 362.0, "L40": 181.0, "A10G": 70.0, "A10": 125.0,
               "RTX 4090": 165.0, "RTX 6000 Ada": 364.0, "V100": 125.0}
TINY = dict(vocab_size=1024, hidden_size=256, intermediate_size=768, num_hidden_layers=2, num_attention_heads=4,
            num_key_value_heads=2, head_dim=64)


def peak_tflops(name: str, given: float | None) -> float | None:
    if given:
        return given
    for key in sorted(PEAK_TFLOPS, key=len, reverse=True):  # "H100 PCIe" before "H100"
        if key in name:
            return PEAK_TFLOPS[key]
    return None


def parse(argv):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seq-len", type=int, default=4096)
    p.add_argument("--micro-batch", type=int, default=1)
    p.add_argument("--layers", type=int, default=None, help="decoder blocks (default: Falcon3-7B's 28)")
    p.add_argument("--steps", type=int, default=8)
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--grad-checkpointing", choices=["auto", "on", "off"], default="auto")
    p.add_argument("--peak-tflops", type=float, default=None, help="override the GPU's peak bf16 TFLOP/s")
    p.add_argument("--compile", action="store_true", help="torch.compile each decoder block")
    p.add_argument("--dry-run", action="store_true", help="CPU, tiny shape, fp32: check that the script runs")
    return p.parse_args(argv)


def build(args, device: str, dtype: torch.dtype):
    from transformers import LlamaConfig, LlamaForCausalLM

    from decomptune.models.presets import FALCON3_7B

    shape = dict(FALCON3_7B, **(TINY if args.dry_run else {}))
    if args.layers:
        shape["num_hidden_layers"] = args.layers
    config = LlamaConfig(**shape, use_cache=False)
    flash = importlib.util.find_spec("flash_attn") is not None and device == "cuda"
    config._attn_implementation = "flash_attention_2" if flash else "sdpa"
    torch.manual_seed(0)
    with torch.device(device):
        model = LlamaForCausalLM(config).to(dtype)
    return model, config


def needs_checkpointing(args, config, device: str) -> bool:
    if args.grad_checkpointing != "auto":
        return args.grad_checkpointing == "on"
    if device != "cuda":
        return False
    from decomptune.parallel.plan import Candidate, ModelShape, activation_bytes

    shape = ModelShape.from_config(config)
    acts = activation_bytes(shape, Candidate(1, 1, 1, 0, micro_batch=args.micro_batch), args.seq_len, 2)
    states = 8 * shape.total_params()  # bf16 weights, grads, AdamW m and v
    free = torch.cuda.get_device_properties(0).total_memory * 0.92
    return states + acts > free


def main(argv=None) -> int:
    args = parse(argv)
    if args.dry_run:
        device, dtype, args.seq_len, args.steps, args.warmup = "cpu", torch.float32, min(args.seq_len, 128), 3, 1
    elif not torch.cuda.is_available():
        print("no CUDA GPU here: run on a GPU machine, or pass --dry-run to check the script on CPU", file=sys.stderr)
        return 2
    else:
        device, dtype = "cuda", torch.bfloat16
    gpu = torch.cuda.get_device_name(0) if device == "cuda" else "cpu (dry run)"
    model, config = build(args, device, dtype)
    ckpt = needs_checkpointing(args, config, device)
    if ckpt:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    if args.compile:
        for layer in model.model.layers:
            layer.compile()
    model.train()
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-5, fused=device == "cuda")

    from decomptune.parallel.plan import ModelShape

    shape = ModelShape.from_config(config)
    flops_per_token = 6 * shape.matmul_params() + 6 * shape.num_hidden_layers * args.seq_len * shape.q_dim
    g = torch.Generator(device=device).manual_seed(0)
    ids = torch.randint(0, config.vocab_size, (args.micro_batch, args.seq_len), device=device, generator=g)
    times = []
    for step in range(args.warmup + args.steps):
        if device == "cuda":
            torch.cuda.synchronize()
        start = time.perf_counter()
        loss = model(input_ids=ids, labels=ids).loss
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        if device == "cuda":
            torch.cuda.synchronize()
        if step >= args.warmup:
            times.append(time.perf_counter() - start)
    step_s = sorted(times)[len(times) // 2]  # median
    tokens_per_s = args.micro_batch * args.seq_len / step_s
    peak = peak_tflops(gpu, args.peak_tflops) if device == "cuda" else args.peak_tflops
    mfu = tokens_per_s * flops_per_token / (peak * 1e12) if peak else None
    result = {
        "gpu": gpu, "torch": torch.__version__, "attention": config._attn_implementation,
        "params": shape.total_params(), "layers": shape.num_hidden_layers, "seq_len": args.seq_len,
        "micro_batch": args.micro_batch, "gradient_checkpointing": ckpt, "compile": args.compile,
        "dtype": str(dtype).replace("torch.", ""), "step_s_median": round(step_s, 4),
        "tokens_per_s_per_gpu": round(tokens_per_s, 1), "model_tflops_per_s": round(tokens_per_s * flops_per_token / 1e12, 2),
        "peak_tflops": peak, "mfu": round(mfu, 4) if mfu is not None else None,
        "peak_memory_gb": round(torch.cuda.max_memory_allocated() / 2**30, 2) if device == "cuda" else None,
        "final_loss": round(loss.item(), 4),
    }
    print(f"{'gpu':<28} {'params':>8} {'seq':>5} {'mb':>3} {'ckpt':>5} {'attn':<18} {'step s':>7} {'tok/s/GPU':>10} "
          f"{'TFLOP/s':>8} {'MFU':>6}")
    print(f"{gpu[:28]:<28} {shape.total_params() / 1e9:7.2f}B {args.seq_len:>5} {args.micro_batch:>3} "
          f"{'yes' if ckpt else 'no':>5} {config._attn_implementation:<18} {step_s:7.3f} {tokens_per_s:10.0f} "
          f"{result['model_tflops_per_s']:8.1f} {mfu * 100 if mfu is not None else float('nan'):5.1f}%")
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / ("gpu_falcon3_dryrun.json" if args.dry_run else "gpu_falcon3.json")
    out.write_text(json.dumps(result, indent=1))
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
