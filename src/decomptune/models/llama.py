"""The Llama family (Falcon3, Llama 2/3, Mistral-style) as DeepSpeed pipeline stages.

Everything model-specific the pipeline path needs lives here: the layer list a
PipelineModule is built from, which linears are column/row tensor-parallel, how the
pipeline's layer files map onto HF weight names, and how a full weight is sliced for
one tensor-parallel rank (and glued back together on export).

Pipeline layers, in order: embedding, one layer per decoder block, final norm, LM head.
Between stages travels (hidden, attention_mask, position_ids): the mask and positions
are integer tensors, so DeepSpeed sends them along without gradients, and every
stage rebuilds the causal/padding mask and its rotary embeddings from them. Packed rows
(data/packing.py) travel with an all-ones mask and restarting position ids, from which
each stage builds the block-diagonal mask.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn
from transformers import LlamaConfig
from transformers.masking_utils import create_causal_mask
from transformers.models.llama.modeling_llama import LlamaDecoderLayer, LlamaRMSNorm, LlamaRotaryEmbedding

# Megatron-style split: column-parallel layers shard their output features, the
# row-parallel layer after them shards its input features and all-reduces its output.
COLUMN_PARALLEL = ("q_proj", "k_proj", "v_proj", "gate_proj", "up_proj")
ROW_PARALLEL = ("o_proj", "down_proj")

EMBED, DECODER, NORM, HEAD = "embed", "decoder", "norm", "head"


def check_tensor_parallel(config: LlamaConfig, tp: int) -> None:
    """Refuse a tp that does not split heads, kv heads and the MLP width evenly."""
    shapes = {
        "num_attention_heads": config.num_attention_heads,
        "num_key_value_heads": config.num_key_value_heads,
        "intermediate_size": config.intermediate_size,
    }
    for name, size in shapes.items():
        if size % tp:
            fits = [t for t in range(1, size + 1) if size % t == 0 and config.num_key_value_heads % t == 0]
            raise ValueError(f"tp={tp} does not divide the model's {name}={size}; "
                             f"choose tp from {fits[:8]}")


def shard_dim(key: str) -> int | None:
    """The dim a tensor-parallel rank slices of the weight `key` (None: replicated)."""
    parts = key.split(".")
    module, leaf = (parts[-2], parts[-1]) if len(parts) >= 2 else ("", parts[-1])
    if module in COLUMN_PARALLEL:
        return 0  # weight and bias both follow the output features
    if module in ROW_PARALLEL and leaf == "weight":
        return 1  # the row-parallel bias is added after the all-reduce: replicated
    return None


def take_shard(full: torch.Tensor, key: str, tp: int, rank: int) -> torch.Tensor:
    dim = shard_dim(key)
    if tp == 1 or dim is None:
        return full
    return full.chunk(tp, dim=dim)[rank]


def join_shards(shards: list[torch.Tensor], key: str) -> torch.Tensor:
    dim = shard_dim(key)
    return shards[0] if dim is None or len(shards) == 1 else torch.cat(shards, dim=dim)


def layer_kinds(config: LlamaConfig) -> list[str]:
    """One entry per pipeline layer; the pipeline layer index is the list index."""
    return [EMBED] + [f"{DECODER}.{i}" for i in range(config.num_hidden_layers)] + [NORM, HEAD]


def hf_name(kind: str, key: str, config: LlamaConfig) -> str:
    """HF LlamaForCausalLM name of parameter `key` of the pipeline layer `kind`."""
    if kind.startswith(DECODER):
        return f"model.layers.{kind.split('.')[1]}.{key}"
    if kind == HEAD and not config.tie_word_embeddings:
        return key  # lm_head.weight
    return f"model.{key}"  # embed_tokens.weight, norm.weight (a tied head holds embed_tokens)


class EmbeddingPipe(nn.Module):
    def __init__(self, config: LlamaConfig):
        super().__init__()
        self.embed_tokens = nn.Embedding(config.vocab_size, config.hidden_size, config.pad_token_id)

    def forward(self, inputs):
        input_ids, attention_mask, position_ids = inputs
        return self.embed_tokens(input_ids), attention_mask, position_ids


class DecoderLayerPipe(LlamaDecoderLayer):
    """An HF decoder block (same parameter names) that takes and returns the stage tuple."""

    def __init__(self, config: LlamaConfig, layer_idx: int, tp_group=None):
        super().__init__(config, layer_idx)
        self.config = config
        # Buffers only (nothing in the state dict): each stage derives its rotary angles
        # from the position ids that travel with the hidden states.
        self.rotary_emb = LlamaRotaryEmbedding(config)
        if tp_group is not None:
            shard_linears(self, tp_group)

    def forward(self, inputs):
        hidden, attention_mask, position_ids = inputs
        # An all-ones mask (no padding; packed rows) goes in as None: transformers then reads
        # example boundaries from restarts in position_ids and builds a block-diagonal mask.
        padding = None if bool(attention_mask.all()) else attention_mask
        mask = create_causal_mask(config=self.config, inputs_embeds=hidden, attention_mask=padding,
                                  cache=None, position_ids=position_ids)
        rotary = self.rotary_emb(hidden, position_ids)
        hidden = super().forward(hidden, attention_mask=mask, position_ids=position_ids,
                                 position_embeddings=rotary)
        return hidden, attention_mask, position_ids


class NormPipe(nn.Module):
    def __init__(self, config: LlamaConfig):
        super().__init__()
        self.norm = LlamaRMSNorm(config.hidden_size, eps=config.rms_norm_eps)

    def forward(self, inputs):
        return self.norm(inputs[0] if isinstance(inputs, tuple) else inputs)


class HeadPipe(nn.Module):
    def __init__(self, config: LlamaConfig):
        super().__init__()
        self.lm_head = nn.Linear(config.hidden_size, config.vocab_size, bias=False)

    def forward(self, hidden):
        return self.lm_head(hidden)


def tied_head_forward(embedding: EmbeddingPipe, hidden):
    return F.linear(hidden, embedding.embed_tokens.weight)


def shard_linears(block: nn.Module, tp_group) -> None:
    """Swap a decoder block's linears for DeepSpeed's tensor-parallel ones (in place)."""
    from deepspeed.module_inject.layers import LinearAllreduce, LinearLayer

    for parent_name, parent in list(block.named_modules()):
        for child_name, child in list(parent.named_children()):
            if child_name in COLUMN_PARALLEL:
                setattr(parent, child_name, LinearLayer(child, mp_group=tp_group, name=child_name))
            elif child_name in ROW_PARALLEL:
                setattr(parent, child_name, LinearAllreduce(child, mp_group=tp_group, name=child_name))


def causal_lm_loss(logits: torch.Tensor, labels_and_scale) -> torch.Tensor:
    """Summed next-token loss over real targets, times the step's scale.

    The scale (micro-batches x DP replicas / target tokens in the whole step) undoes
    DeepSpeed's mean over micro-batches and replicas, so the step loss and gradient equal
    one loss averaged over every target token of the step, as a single process computes.
    """
    labels, scale = labels_and_scale
    logits = logits[:, :-1, :].float()
    targets = labels[:, 1:]
    summed = F.cross_entropy(logits.reshape(-1, logits.size(-1)), targets.reshape(-1),
                             ignore_index=-100, reduction="sum")
    return summed * scale.reshape(())


def pipeline_layer_specs(config: LlamaConfig, tp_group=None) -> list:
    from deepspeed.pipe import LayerSpec, TiedLayerSpec

    if config.tie_word_embeddings:
        embed = TiedLayerSpec("embed", EmbeddingPipe, config, tied_weight_attr=["embed_tokens.weight"])
        head = TiedLayerSpec("embed", EmbeddingPipe, config, forward_fn=tied_head_forward,
                             tied_weight_attr=["embed_tokens.weight"])
    else:
        embed, head = LayerSpec(EmbeddingPipe, config), LayerSpec(HeadPipe, config)
    blocks = [LayerSpec(DecoderLayerPipe, config, i, tp_group) for i in range(config.num_hidden_layers)]
    return [embed, *blocks, LayerSpec(NormPipe, config), head]


def partition_method(name: str) -> str:
    """Our partition names -> DeepSpeed's: "uniform" spreads the decoder blocks evenly
    (28 -> 14/14), "parameters" balances parameter counts (embedding and head included)."""
    methods = {"uniform": f"type:{DecoderLayerPipe.__name__}", "parameters": "parameters"}
    if name not in methods:
        raise ValueError(f"layout.partition={name!r} is not one of {sorted(methods)}")
    return methods[name]


def build_pipeline_module(config: LlamaConfig, topology, tp_group=None, partition: str = "parameters",
                          checkpoint_activations: bool = False):
    """A DeepSpeed PipelineModule of this model; only this rank's stage is built."""
    from deepspeed.pipe import PipelineModule

    class LlamaPipelineModule(PipelineModule):
        def _count_layer_params(self):
            # DeepSpeed builds every layer of the whole model on every rank just to count
            # parameters; on the meta device that costs neither memory nor init time.
            with torch.device("meta"):
                return super()._count_layer_params()

    return LlamaPipelineModule(
        layers=pipeline_layer_specs(config, tp_group),
        topology=topology,
        loss_fn=causal_lm_loss,
        partition_method=partition_method(partition),
        # Batches are padded per micro-batch, so activation shapes change between them.
        dynamic_shape=True,
        activation_checkpoint_interval=1 if checkpoint_activations else 0,
    )


def local_layers(pipe) -> list[tuple[int, nn.Module]]:
    """(pipeline layer index, module) for each layer with weights on this rank's stage."""
    out = []
    for offset, func in enumerate(pipe.forward_funcs):
        idx = pipe._local_start + offset
        if isinstance(func, nn.Module):
            out.append((idx, func))
        elif hasattr(func, "args") and isinstance(func.args[0], nn.Module):
            out.append((idx, func.args[0]))  # a tied head: functools.partial(fn, module)
    return out


@torch.no_grad()
def load_stage_weights(pipe, config: LlamaConfig, source, tp: int, tp_rank: int) -> None:
    """Fill this stage's parameters from full HF weights, slicing tensor-parallel ones.

    `source(name)` returns the full tensor of an HF weight name (see weight_source).
    """
    kinds = layer_kinds(config)
    for idx, module in local_layers(pipe):
        own = module.state_dict(keep_vars=True)
        for key, tensor in own.items():
            name = hf_name(kinds[idx], key, config)
            piece = take_shard(source(name), key, tp, tp_rank)
            if piece.shape != tensor.shape:
                raise ValueError(f"weight {name}: the checkpoint's slice for tp rank {tp_rank} has shape "
                                 f"{tuple(piece.shape)}, the model expects {tuple(tensor.shape)}; "
                                 "does the model config match the weights?")
            tensor.data.copy_(piece.to(tensor.dtype))


def weight_source(model_or_dir):
    """name -> full tensor, from an in-memory HF model or an HF safetensors directory.

    From a directory, each rank reads only the tensors of its own stage.
    """
    if isinstance(model_or_dir, nn.Module):
        state = model_or_dir.state_dict()
        return lambda name: _lookup(state, name, "the given model")
    return SafetensorsWeights(model_or_dir)


def _lookup(state, name, where):
    if name not in state:
        raise KeyError(f"weight {name} is missing from {where}; is it a Llama-family model?")
    return state[name]


class SafetensorsWeights:
    def __init__(self, model_dir):
        import json
        from pathlib import Path

        self.dir = Path(model_dir)
        index = self.dir / "model.safetensors.index.json"
        if index.exists():
            self.files = json.loads(index.read_text())["weight_map"]
        elif (self.dir / "model.safetensors").exists():
            from safetensors import safe_open

            with safe_open(self.dir / "model.safetensors", "pt") as f:
                self.files = {k: "model.safetensors" for k in f.keys()}
        else:
            raise FileNotFoundError(f"{self.dir} holds no model.safetensors(.index.json); "
                                    "the pipeline path loads HF safetensors models only")

    def __call__(self, name):
        from safetensors import safe_open

        file = _lookup(self.files, name, str(self.dir))
        with safe_open(self.dir / file, "pt") as f:
            return f.get_tensor(name)
