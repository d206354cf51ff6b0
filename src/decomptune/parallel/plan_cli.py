"""`decomptune plan`: which layouts fit your GPUs, how much memory each needs, how fast each runs.

    decomptune plan --model falcon3-7b --gpus 4 --gpu-mem 80 --seq-len 2048
    decomptune plan --model path/to/config.json --gpus 16 --nodes 2 --gpu-mem 141 --micro-batch 2
"""
from __future__ import annotations

import argparse
import json
import sys

from decomptune.parallel.plan import GB, Hardware, load_shape, plan


def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="decomptune plan", description=__doc__.split("\n\n")[0],
                                formatter_class=argparse.RawDescriptionHelpFormatter,
                                epilog="The memory and time model is documented in decomptune/parallel/plan.py.")
    p.add_argument("--model", required=True, help="falcon3-7b, a known hub name, a config.json, or a model directory")
    p.add_argument("--gpus", type=int, required=True, help="GPUs in total (all nodes)")
    p.add_argument("--nodes", type=int, default=1)
    p.add_argument("--gpu-mem", type=float, required=True, help="memory per GPU in GB (GiB), e.g. 80 for an H100")
    p.add_argument("--seq-len", type=int, default=2048, help="tokens per row (model_max_length)")
    p.add_argument("--micro-batch", type=int, default=None,
                   help="rows per GPU per micro-batch; default: the largest that fits, per layout")
    p.add_argument("--grad-accum", type=int, default=8, help="micro-batches per step (pipeline: at least pp)")
    p.add_argument("--gpu-tflops", type=float, default=989.0, help="peak dense bf16 TFLOP/s per GPU (H100/H200: 989)")
    p.add_argument("--efficiency", type=float, default=0.5, help="fraction of peak the matmuls reach")
    p.add_argument("--intra-node-gbps", type=float, default=300.0, help="GB/s per GPU inside a node")
    p.add_argument("--inter-node-gbps", type=float, default=25.0, help="GB/s per GPU between nodes")
    p.add_argument("--cpu", action="store_true", help="plan for CPU processes (fp32) instead of GPUs")
    p.add_argument("--top", type=int, default=15, help="rows to show (0: all)")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    return p


def table(estimates, top: int) -> str:
    head = (f"{'#':>3} {'fits':<4} {'tp':>2} {'pp':>2} {'dp':>3} {'zero':>4} {'offload':<9} {'mb':>3} {'ckpt':<4} "
            f"{'params':>7} {'grads':>7} {'optim':>7} {'activ':>7} {'buffer':>7} {'total':>7} {'step s':>8} {'tok/s':>9}")
    lines = [head, "-" * len(head)]
    shown = estimates if top <= 0 else estimates[:top]
    for n, e in enumerate(shown, 1):
        c, m = e.candidate, e.memory
        gb = [f"{v / GB:7.2f}" for v in (m.params, m.grads, m.optimizer, m.activations, m.buffers, m.total)]
        lines.append(f"{n:>3} {'yes' if e.fits else 'NO':<4} {c.tp:>2} {c.pp:>2} {c.dp:>3} {c.zero:>4} {c.offload:<9} "
                     f"{c.micro_batch:>3} {'yes' if c.grad_checkpointing else 'no':<4} {' '.join(gb)} "
                     f"{e.step_time_s:8.3f} {e.tokens_per_s:9.0f}")
    if len(shown) < len(estimates):
        lines.append(f"... {len(estimates) - len(shown)} more (--top 0 shows all)")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        shape, source = load_shape(args.model)
        hw = Hardware(gpus=args.gpus, nodes=args.nodes, gpu_mem_gb=args.gpu_mem, device="cpu" if args.cpu else "gpu",
                      peak_tflops=args.gpu_tflops, efficiency=args.efficiency,
                      intra_node_gbps=args.intra_node_gbps, inter_node_gbps=args.inter_node_gbps)
        ranked = plan(shape, hw, args.seq_len, args.micro_batch, args.grad_accum)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    if args.json:
        print(json.dumps({"model": source, "params": shape.total_params(), "hardware": vars(hw),
                          "layouts": [e.row() for e in ranked]}, indent=1, default=str))
        return 0 if any(e.fits for e in ranked) else 1
    fitting = sum(e.fits for e in ranked)
    print(f"model: {source}, {shape.total_params() / 1e9:.2f} B parameters; {args.gpus} {'CPU process' if args.cpu else 'GPU'}(s) "
          f"on {args.nodes} node(s), {args.gpu_mem:g} GB each; seq_len {args.seq_len}, {args.grad_accum} micro-batches per step")
    print(f"{fitting} of {len(ranked)} layouts fit. Memory in GB per device; 'mb' = micro-batch rows; "
          f"step time and tokens/s from the model in parallel/plan.py (peak {args.gpu_tflops:g} TFLOP/s x {args.efficiency:g}).")
    print(table(ranked, args.top))
    if fitting:
        best = ranked[0]
        print(f"\nfirst choice: --layout {best.candidate.layout().flag()} --per_device_train_batch_size "
              f"{best.candidate.micro_batch}" + (" --gradient_checkpointing" if best.candidate.grad_checkpointing else "")
              + "   (decomptune train --layout auto picks it)")
    else:
        print("\nnothing fits: add GPUs, shorten --seq-len, or lower --micro-batch")
    return 0 if fitting else 1


if __name__ == "__main__":
    sys.exit(main())
