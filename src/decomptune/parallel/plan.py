"""The layout planner: per-GPU memory and step time of every runnable layout, ranked.

Memory model (bytes on the busiest rank; w = bytes per weight: 2 in bf16 on GPUs, 4 in fp32
on CPU). Ψ is the parameter count the rank holds after tensor and pipeline splitting: its
share of the decoder blocks (q/k/v/o and MLP linears divided by tp, norms whole), plus the
embedding on the first stage and the LM head on the last (neither is split by tp).

    parameters   w·Ψ            ZeRO-3: w·Ψ/dp            offload=param: 0
    gradients    ZeRO-0: w·Ψ    ZeRO-1: 4·Ψ/dp (DeepSpeed 0.19 reduces ZeRO-1 gradients bucket by
                 bucket into an fp32 partition)    ZeRO-2/3: w·Ψ/dp
                 ZeRO-1/2 with dp = 1: + w·Ψ (measured: the whole gradient is then held twice)
                 offload=optimizer at ZeRO-1/2: 0 (the fp32 partition lives on the host)
    optimizer    ZeRO-1..3: 16·Ψ/dp  (DeepSpeed's fp32 master copy 4, Adam m and v 8, and the
                 fp32 gradient partition the step builds 4; in fp32 ZeRO-3 steps on its gradient
                 partition directly: 12·Ψ/dp); offload=optimizer: 0 on the GPU
                 ZeRO-0: torch AdamW, 8·Ψ in fp32, 16·Ψ with bf16 weights (plus a master copy)
    activations  what backward keeps, per token and layer: the block's inputs, norms, q/k/v,
                 attention output, MLP gate/up/product (≈ 6h + 2·kv + 4·i values, the
                 tp-split ones divided by tp), times the layers on the stage; a pipeline's
                 first stage holds pp micro-batches in flight. Gradient checkpointing keeps
                 only each block's input (h values) plus one block's full set. Plus the logits
                 (w + 8 bytes per vocabulary entry and token: logits, fp32 copy, its gradient).
    buffers      DeepSpeed's gradient bucket (reduce_bucket_size = 5e8 elements by default;
                 a GPU allocates all of it, a CPU process only touches min(bucket, Ψ)); at
                 ZeRO-3 also the gathered parameters DeepSpeed keeps alive (up to
                 stage3_max_live_parameters = 1e9) and the full gradients on their way into
                 the bucket. And a fixed per-process runtime share (Hardware.runtime_gb).

Checked against real runs: benchmarks/bench_layouts.py measures each layout's per-rank peak
memory on CPU and prints it next to these estimates (tests/test_plan_measured.py asserts ±15%).

Time model, no overlap between compute and communication (so it errs slow):

    compute      6·N·T flops (N: parameters in matmuls, T: tokens) + 6·L·T·s·d_attn for
                 causal attention; 8·N·T with gradient checkpointing (forward run twice),
                 at peak_tflops x efficiency per GPU; a pipeline adds the bubble
                 (pp-1)/(micro_batches) of the step.
    data-parallel ZeRO-0/1: all-reduce of the gradients once per step, 2·(dp-1)/dp·w·Ψ bytes;
                 ZeRO-2: reduce-scatter per micro-batch + all-gather per step; ZeRO-3:
                 3·(dp-1)/dp·w·Ψ per micro-batch (gather for forward and backward, reduce).
    tensor       4 all-reduces of the micro-batch's hidden states per block per micro-batch
                 (6 with checkpointing), 2·(tp-1)/tp of b·s·h·w bytes each.
    pipeline     send/receive of b·s·h·w bytes per micro-batch and boundary, both ways.
    offload      gradients to the host and weights back over PCIe, and the CPU Adam step
                 (cpu_adam_params_per_s); offload=param moves w·Ψ/dp each way per micro-batch.

Bandwidths: inside a node (NVLink-class, per GPU) and between nodes (per GPU); TP stays
inside a node. Every constant is a field of Hardware, so a user can match their machines.
"""
from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any, Mapping

from decomptune.parallel.layout import Layout, valid_tp_sizes

GB = 1024 ** 3
DEFAULT_REDUCE_BUCKET = int(5e8)  # DeepSpeed's default reduce_bucket_size (elements); our ds_config keeps it
STAGE3_MAX_LIVE = int(1e9)  # DeepSpeed's default stage3_max_live_parameters


# ---------------------------------------------------------------- model shape

@dataclass(frozen=True)
class ModelShape:
    vocab_size: int
    hidden_size: int
    intermediate_size: int
    num_hidden_layers: int
    num_attention_heads: int
    num_key_value_heads: int
    head_dim: int
    tie_word_embeddings: bool = False

    @classmethod
    def from_config(cls, config: Any) -> "ModelShape":
        get = (lambda k: config.get(k)) if isinstance(config, Mapping) else (lambda k: getattr(config, k, None))
        missing = [k for k in ("vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers",
                               "num_attention_heads") if get(k) is None]
        if missing:
            raise ValueError(f"the model config lacks {missing}: the planner needs a Llama-style config.json")
        heads = int(get("num_attention_heads"))
        return cls(
            vocab_size=int(get("vocab_size")), hidden_size=int(get("hidden_size")),
            intermediate_size=int(get("intermediate_size")), num_hidden_layers=int(get("num_hidden_layers")),
            num_attention_heads=heads, num_key_value_heads=int(get("num_key_value_heads") or heads),
            head_dim=int(get("head_dim") or int(get("hidden_size")) // heads),
            tie_word_embeddings=bool(get("tie_word_embeddings")),
        )

    @property
    def q_dim(self) -> int:
        return self.num_attention_heads * self.head_dim

    @property
    def kv_dim(self) -> int:
        return self.num_key_value_heads * self.head_dim

    def block_split_params(self) -> int:
        """Parameters of one decoder block that tensor parallelism splits (its linears)."""
        h, i = self.hidden_size, self.intermediate_size
        return h * self.q_dim + 2 * h * self.kv_dim + self.q_dim * h + 3 * h * i

    def block_params(self) -> int:
        return self.block_split_params() + 2 * self.hidden_size  # + two RMSNorm weights

    @property
    def embed_params(self) -> int:
        return self.vocab_size * self.hidden_size

    @property
    def head_params(self) -> int:
        return 0 if self.tie_word_embeddings else self.vocab_size * self.hidden_size

    def total_params(self) -> int:
        return (self.embed_params + self.head_params + self.num_hidden_layers * self.block_params()
                + self.hidden_size)

    def matmul_params(self) -> int:
        """Parameters that cost 2 flops per token in forward: every linear and the LM head."""
        return self.num_hidden_layers * self.block_split_params() + self.vocab_size * self.hidden_size


def load_shape(model: str) -> tuple[ModelShape, str]:
    """(shape, where it came from) for a preset name, a hub name with a known shape,
    a config.json, a model directory, or 'tiny'."""
    from decomptune.models import presets

    known = {"falcon3-7b": presets.FALCON3_7B, **{k.lower(): v for k, v in getattr(presets, "KNOWN_SHAPES", {}).items()}}
    if model.lower() in known:
        return ModelShape.from_config(known[model.lower()]), f"preset {model}"
    if model == "tiny":
        from decomptune.models.tiny import tiny_llama_config

        return ModelShape.from_config(tiny_llama_config(vocab_size=4096)), "the embedded tiny model"
    path = Path(model)
    if path.is_dir():
        path = path / "config.json"
    if path.is_file():
        try:
            return ModelShape.from_config(json.loads(path.read_text(encoding="utf-8"))), str(path)
        except json.JSONDecodeError as exc:
            raise ValueError(f"{path} is not valid JSON: {exc}") from exc
    raise ValueError(f"--model {model!r}: not a preset ({', '.join(sorted(known))}), a config.json or a model "
                     "directory with one; pass a local config.json to plan any Llama-style model")


# ---------------------------------------------------------------- hardware and candidates

@dataclass(frozen=True)
class Hardware:
    gpus: int
    gpu_mem_gb: float
    nodes: int = 1
    device: str = "gpu"  # "cpu": fp32 weights, buffers count only the pages they touch
    peak_tflops: float = 989.0  # H100/H200 SXM dense bf16
    efficiency: float = 0.5  # fraction of peak the matmuls reach
    intra_node_gbps: float = 300.0  # per GPU, GB/s (NVLink-class bus bandwidth)
    inter_node_gbps: float = 25.0  # per GPU, GB/s (200 Gb/s InfiniBand)
    pcie_gbps: float = 25.0
    cpu_adam_params_per_s: float = 1e9
    reduce_bucket: int = DEFAULT_REDUCE_BUCKET
    # Per process, whatever the model: CUDA context, cuBLAS and NCCL workspaces on a GPU;
    # on CPU the ~0.1 GB that the Trainer, DeepSpeed and gloo take once training starts (measured).
    runtime_gb: float = 1.0

    @classmethod
    def cpu(cls, processes: int, mem_gb: float = 1e9, **overrides) -> "Hardware":
        """CPU processes on one host (fp32, gloo). Compute and bandwidth are per process and
        measured on a 2-core cloud VM (benchmarks/bench_layouts.py); a bigger host is faster."""
        values = dict(gpus=processes, gpu_mem_gb=mem_gb, device="cpu", runtime_gb=0.1, peak_tflops=0.02, efficiency=1.0,
                      intra_node_gbps=2.0, inter_node_gbps=1.0, pcie_gbps=10.0, cpu_adam_params_per_s=2e8)
        return cls(**(values | overrides))

    @property
    def gpus_per_node(self) -> int:
        return max(1, self.gpus // self.nodes)

    @property
    def weight_bytes(self) -> int:
        return 4 if self.device == "cpu" else 2


@dataclass(frozen=True)
class Candidate:
    tp: int
    pp: int
    dp: int
    zero: int
    offload_optimizer: bool = False
    offload_param: bool = False
    micro_batch: int = 1
    grad_checkpointing: bool = False
    micro_batches: int = 8  # gradient accumulation steps (pipeline: micro-batches per step)

    def layout(self) -> Layout:
        return Layout(tp=self.tp, pp=self.pp, dp=self.dp, zero_stage=self.zero,
                      offload_optimizer=self.offload_optimizer, offload_param=self.offload_param,
                      micro_batches=self.micro_batches if self.pp > 1 else None)

    @property
    def offload(self) -> str:
        return {(False, False): "none", (True, False): "optimizer", (True, True): "opt+param"}[
            (self.offload_optimizer, self.offload_param)]


@dataclass
class Memory:
    params: float
    grads: float
    optimizer: float
    activations: float
    buffers: float
    host: float = 0.0  # what offload moves to host memory (per rank)

    @property
    def model_states(self) -> float:
        return self.params + self.grads + self.optimizer

    @property
    def total(self) -> float:
        return self.model_states + self.activations + self.buffers


@dataclass
class Estimate:
    candidate: Candidate
    memory: Memory
    step_time_s: float
    tokens_per_s: float
    fits: bool
    breakdown: dict = field(default_factory=dict)

    def row(self) -> dict:
        return {**asdict(self.candidate), "layout": self.candidate.layout().flag(), "fits": self.fits,
                "memory_gb": {k: round(v / GB, 3) for k, v in asdict(self.memory).items()},
                "total_gb": round(self.memory.total / GB, 3), "step_time_s": round(self.step_time_s, 4),
                "tokens_per_s": round(self.tokens_per_s, 1), "time_breakdown_s": self.breakdown}


# ---------------------------------------------------------------- memory

def stage_params(shape: ModelShape, tp: int, pp: int) -> list[int]:
    """Parameters each pipeline stage holds on one TP rank, split as DeepSpeed's "parameters"
    partition does: contiguous layers [embed, blocks..., norm, head], the largest stage as small as possible.

    TP splits the blocks' linears; DeepSpeed's AutoTP (pp == 1) also splits the LM head
    (measured); the pipeline's TP stages keep embedding and head whole."""
    block = shape.block_split_params() // tp + 2 * shape.hidden_size
    head = shape.head_params // tp if pp == 1 else shape.head_params
    weights = [shape.embed_params] + [block] * shape.num_hidden_layers + [shape.hidden_size, head]
    if shape.tie_word_embeddings and pp > 1:
        weights[-1] = shape.embed_params  # the tied head keeps its own copy on the last stage
    if pp == 1:
        return [sum(weights)]
    lo, hi = max(weights), sum(weights)
    while lo < hi:  # smallest max-stage size that splits into <= pp contiguous parts
        mid = (lo + hi) // 2
        parts, acc = 1, 0
        for w in weights:
            if acc + w > mid:
                parts, acc = parts + 1, w
            else:
                acc += w
        lo, hi = (mid + 1, hi) if parts > pp else (lo, mid)
    stages, acc = [], 0
    for w in weights:
        if acc + w > lo:
            stages.append(acc)
            acc = w
        else:
            acc += w
    stages.append(acc)
    return stages + [0] * (pp - len(stages))


def activation_bytes(shape: ModelShape, c: Candidate, seq_len: int, w: int) -> float:
    h, kv, i, tp = shape.hidden_size, shape.kv_dim, shape.intermediate_size, c.tp
    per_token_layer = (4 * h + (2 * shape.q_dim + 2 * kv + 4 * i) / tp) * w  # replicated + tp-split values
    layers = math.ceil(shape.num_hidden_layers / c.pp)
    tokens = c.micro_batch * seq_len
    in_flight = min(c.pp, c.micro_batches) if c.pp > 1 else 1
    if c.grad_checkpointing:
        kept = tokens * (layers * h * w * in_flight + per_token_layer)
    else:
        kept = tokens * layers * per_token_layer * in_flight
    logits = tokens * shape.vocab_size * (w + 8)  # on the last stage; its activations are fewer, so count it once
    return kept + logits


def memory(shape: ModelShape, c: Candidate, hw: Hardware, seq_len: int) -> Memory:
    w = hw.weight_bytes
    psi = max(stage_params(shape, c.tp, c.pp))
    dp = c.dp
    params = 0.0 if c.offload_param else (w * psi / dp if c.zero == 3 else w * psi)
    host = 0.0
    if c.zero == 0:
        grads = w * psi
    elif c.zero == 1:
        grads = 4.0 * psi / dp  # DeepSpeed 0.19: ZeRO-1 accumulates its gradient partition in fp32
    else:
        grads = w * psi / dp
    if c.zero == 0:
        optimizer = 8.0 * psi if w == 4 else 16.0 * psi
    elif c.zero == 3 and w == 4:
        optimizer = 12.0 * psi / dp  # fp32: the step uses the gradient partition itself, no fp32 copy
    else:
        optimizer = 16.0 * psi / dp
    if c.zero in (1, 2) and c.offload_optimizer:
        # ZeRO-Offload: the fp32 gradient partition lives on the host; the GPU keeps the bucket.
        host += 4.0 * psi / dp
        grads = 0.0
    elif c.zero in (1, 2) and dp == 1:
        grads += w * psi  # measured: with one data-parallel rank DeepSpeed holds the whole gradient twice
    if c.offload_optimizer:
        host += optimizer
        optimizer = 0.0
    if c.offload_param:
        host += w * psi / dp
    touched = (lambda n: n) if hw.device == "gpu" else (lambda n: min(n, psi))
    buffers = hw.runtime_gb * GB
    if c.zero in (1, 2):
        # ZeRO-1 stages the fp32 accumulator, ZeRO-2 keeps it in the weight dtype.
        buffers += touched(hw.reduce_bucket) * (4 if c.zero == 1 else w)
    elif c.zero == 3:
        # DeepSpeed's defaults keep up to 1e9 gathered parameters alive (stage3_max_live_parameters,
        # stage3_max_reuse_distance): for models up to ~1 B the whole layer set stays gathered.
        # Plus the gradient bucket and the full-size gradients on their way into it.
        buffers += w * min(psi, STAGE3_MAX_LIVE) + 2 * w * touched(hw.reduce_bucket)
    acts = activation_bytes(shape, c, seq_len, w)
    return Memory(params, grads, optimizer, acts, buffers, host)


# ---------------------------------------------------------------- time

def step_time(shape: ModelShape, c: Candidate, hw: Hardware, seq_len: int) -> tuple[float, dict]:
    w = hw.weight_bytes
    tokens = c.micro_batch * seq_len  # per micro-batch, per replica
    mm = shape.matmul_params()
    # QK^T and AV: 4·s·d flops per token and layer forward, halved by the causal mask, x3 for training.
    attn = 6 * shape.num_hidden_layers * seq_len * shape.q_dim
    flops = (8 if c.grad_checkpointing else 6) * mm + attn
    per_gpu_flops = flops * tokens * c.micro_batches / (c.tp * c.pp)
    compute = per_gpu_flops / (hw.peak_tflops * 1e12 * hw.efficiency)
    if c.pp > 1:
        compute *= (c.micro_batches + c.pp - 1) / c.micro_batches  # the pipeline bubble
    psi = max(stage_params(shape, c.tp, c.pp))
    multi_node = c.tp * c.pp * c.dp > hw.gpus_per_node
    dp_bw = (hw.inter_node_gbps if multi_node else hw.intra_node_gbps) * 1e9
    ring = (c.dp - 1) / c.dp if c.dp > 1 else 0.0
    if c.zero <= 1:
        dp_bytes = 2 * ring * w * psi
    elif c.zero == 2:
        dp_bytes = ring * w * psi * (c.micro_batches + 1)
    else:
        dp_bytes = 3 * ring * w * psi * c.micro_batches
    data_parallel = dp_bytes / dp_bw
    tp_calls = (6 if c.grad_checkpointing else 4) * math.ceil(shape.num_hidden_layers / c.pp)
    tensor = (tp_calls * 2 * (c.tp - 1) / c.tp * tokens * shape.hidden_size * w * c.micro_batches
              / (hw.intra_node_gbps * 1e9)) if c.tp > 1 else 0.0
    pp_bw = (hw.inter_node_gbps if c.tp * c.pp > hw.gpus_per_node else hw.intra_node_gbps) * 1e9
    pipeline = (2 * tokens * shape.hidden_size * w * c.micro_batches / pp_bw) if c.pp > 1 else 0.0
    offload = 0.0
    if c.offload_optimizer:
        offload += (2 * w * psi / c.dp) / (hw.pcie_gbps * 1e9) + (psi / c.dp) / hw.cpu_adam_params_per_s
    if c.offload_param:
        offload += 2 * w * psi / c.dp * c.micro_batches / (hw.pcie_gbps * 1e9)
    parts = {"compute": compute, "data_parallel": data_parallel, "tensor": tensor,
             "pipeline": pipeline, "offload": offload}
    return sum(parts.values()), {k: round(v, 4) for k, v in parts.items()}


def estimate(shape: ModelShape, c: Candidate, hw: Hardware, seq_len: int) -> Estimate:
    mem = memory(shape, c, hw, seq_len)
    seconds, parts = step_time(shape, c, hw, seq_len)
    tokens = c.micro_batch * seq_len * c.micro_batches * c.dp
    return Estimate(c, mem, seconds, tokens / seconds, mem.total <= hw.gpu_mem_gb * GB, parts)


# ---------------------------------------------------------------- search

def candidates(shape: ModelShape, hw: Hardware, micro_batches: int, micro_batch_sizes: list[int]) -> list[Candidate]:
    out = []
    tps = [t for t in valid_tp_sizes(asdict(shape)) if t <= hw.gpus_per_node and hw.gpus % t == 0]
    for tp in tps:
        for pp in range(1, min(hw.gpus // tp, shape.num_hidden_layers) + 1):
            if hw.gpus % (tp * pp):
                continue
            dp = hw.gpus // (tp * pp)
            # The pipeline path runs ZeRO-1 without offload (DeepSpeed refuses ZeRO-2/3 with pp).
            if pp > 1:
                options = [(1, False, False)]
            elif dp == 1:  # nothing to shard over: ZeRO matters only for what it offloads
                options = [(0, False, False), (1, True, False), (3, True, True)]
            else:
                options = [(0, False, False), (1, False, False), (2, False, False), (3, False, False),
                           (1, True, False), (2, True, False), (3, True, False), (3, True, True)]
            for zero, off_opt, off_param in options:
                for ckpt in (False, True):
                    for mb in micro_batch_sizes:
                        out.append(Candidate(tp, pp, dp, zero, off_opt, off_param, mb, ckpt,
                                             max(micro_batches, pp if pp > 1 else 1)))
    return out


def plan(shape: ModelShape, hw: Hardware, seq_len: int, micro_batch: int | None = None,
         micro_batches: int = 8) -> list[Estimate]:
    """Every candidate layout, estimated: the ones that fit first, fastest first; then the
    rest by memory. With micro_batch=None each layout gets the largest size (of 1..64) that fits."""
    if hw.gpus < 1 or hw.nodes < 1 or hw.gpus % hw.nodes:
        raise ValueError(f"--gpus {hw.gpus} must be a positive multiple of --nodes {hw.nodes}")
    sizes = [micro_batch] if micro_batch else [1, 2, 4, 8, 16, 32, 64]
    estimates = [estimate(shape, c, hw, seq_len) for c in candidates(shape, hw, micro_batches, sizes)]
    if not micro_batch:  # keep, per layout, the biggest micro-batch that fits (else the smallest)
        best: dict[tuple, Estimate] = {}
        for e in estimates:
            key = replace(e.candidate, micro_batch=0)
            old = best.get(key)
            if old is None or (e.fits and (not old.fits or e.candidate.micro_batch > old.candidate.micro_batch)):
                best[key] = e
        estimates = list(best.values())
    fitting = sorted((e for e in estimates if e.fits), key=lambda e: (-e.tokens_per_s, e.memory.total))
    rest = sorted((e for e in estimates if not e.fits), key=lambda e: e.memory.total)
    return fitting + rest


def first_choice(shape: ModelShape, hw: Hardware, seq_len: int, micro_batch: int | None = None,
                 micro_batches: int = 8) -> Estimate:
    ranked = plan(shape, hw, seq_len, micro_batch, micro_batches)
    if not ranked or not ranked[0].fits:
        smallest = min(ranked, key=lambda e: e.memory.total) if ranked else None
        need = f"; the smallest layout needs {smallest.memory.total / GB:.1f} GB per device" if smallest else ""
        raise ValueError(f"no layout fits {hw.gpus} device(s) of {hw.gpu_mem_gb:g} GB at seq_len {seq_len}{need}: "
                         "add devices, shorten --model_max_length or lower the micro-batch")
    return ranked[0]


def detect_hardware(world_size: int) -> Hardware:
    """This machine as the planner sees it: its GPUs (memory of GPU 0), or, without one,
    CPU processes sharing the host's memory."""
    import os

    import psutil
    import torch

    local = int(os.environ.get("LOCAL_WORLD_SIZE", world_size)) or world_size
    nodes = max(1, world_size // local)
    if torch.cuda.is_available():
        mem = torch.cuda.get_device_properties(0).total_memory / GB
        return Hardware(gpus=world_size, nodes=nodes, gpu_mem_gb=mem)
    return Hardware.cpu(world_size, psutil.virtual_memory().total / GB / local, nodes=nodes)


def apply_auto_layout(cfg, model_config, world_size: int) -> str:
    """`train --layout auto`: the planner's first choice for this machine, the run's own
    micro-batch and sequence length. Sets gradient checkpointing when the choice needs it and
    returns the --layout string."""
    import logging

    hw = detect_hardware(world_size)
    best = first_choice(ModelShape.from_config(model_config), hw, cfg.data.model_max_length,
                        cfg.train.per_device_train_batch_size, cfg.train.gradient_accumulation_steps)
    if best.candidate.grad_checkpointing:
        cfg.model.gradient_checkpointing = True
    flag = best.candidate.layout().flag()
    logging.getLogger(__name__).info(
        "--layout auto: %s%s (planner: %.1f GB of %.1f GB per device, ~%.0f tokens/s; see `decomptune plan`)",
        flag, " with gradient checkpointing" if best.candidate.grad_checkpointing else "",
        best.memory.total / GB, hw.gpu_mem_gb, best.tokens_per_s)
    return flag
