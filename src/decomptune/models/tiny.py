"""The embedded default model: a tiny Llama built from a config, shaped like Falcon3
in miniature (grouped-query attention, SwiGLU, RMSNorm, RoPE, untied embeddings)."""
from __future__ import annotations

from transformers import LlamaConfig

TINY_NAME = "tiny"


def tiny_llama_config(vocab_size: int, **overrides) -> LlamaConfig:
    shape = dict(
        hidden_size=128,
        intermediate_size=352,  # divisible by 2 and 4 for tensor parallelism
        num_hidden_layers=4,
        num_attention_heads=4,
        num_key_value_heads=2,  # GQA, as in Falcon3 (12 q / 4 kv)
        max_position_embeddings=2048,
        rope_theta=10000.0,
        rms_norm_eps=1e-6,
        tie_word_embeddings=False,
        attention_bias=False,
        mlp_bias=False,
    )
    shape.update(overrides)
    return LlamaConfig(vocab_size=vocab_size, **shape)
