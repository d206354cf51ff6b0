"""Shapes of real models, as plain dicts for `transformers.LlamaConfig(**PRESET)`.

Used where the shape matters but the weights do not: the layout validator, the memory
planner, and tests that check a layout for Falcon3-7B on a machine without the hub.
"""
from __future__ import annotations

# Falcon3-7B-Base (model card): Llama architecture, 28 blocks, 12 query heads and 4 key/value
# heads of dimension 256, SwiGLU MLP 23040, RMSNorm, RoPE theta 1000042, vocabulary 131,072,
# untied embeddings, 32K context. About 7.46 B parameters.
FALCON3_7B: dict = dict(
    vocab_size=131072,
    hidden_size=3072,
    intermediate_size=23040,
    num_hidden_layers=28,
    num_attention_heads=12,
    num_key_value_heads=4,
    head_dim=256,
    hidden_act="silu",
    max_position_embeddings=32768,
    rms_norm_eps=1e-6,
    rope_theta=1000042.0,
    tie_word_embeddings=False,
    attention_bias=False,
    mlp_bias=False,
)


# Hub names whose shape is known without a download (layout checks, the planner).
KNOWN_SHAPES: dict[str, dict] = {
    "tiiuae/Falcon3-7B-Base": FALCON3_7B,
    "tiiuae/Falcon3-7B-Instruct": FALCON3_7B,
}
