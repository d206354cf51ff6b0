"""Load the model a run trains: the embedded tiny Llama or any HF causal LM."""
from __future__ import annotations

import importlib.util
import logging
from pathlib import Path

import torch
from transformers import AutoModelForCausalLM, LlamaForCausalLM, PreTrainedModel, set_seed

from ..config import ModelArgs
from .tiny import TINY_NAME, tiny_llama_config

log = logging.getLogger(__name__)


def attention_implementation(model_args: ModelArgs) -> str:
    if not model_args.use_flash_attention:
        return "sdpa"
    if importlib.util.find_spec("flash_attn") is None or not torch.cuda.is_available():
        why = "flash-attn is not installed" if importlib.util.find_spec("flash_attn") is None else "no CUDA GPU"
        log.warning("--use_flash_attention asked for, but %s: using PyTorch sdpa attention instead "
                    "(pip install 'decomptune[flash]' on a CUDA machine)", why)
        return "sdpa"
    return "flash_attention_2"


def compute_dtype(bf16: bool) -> torch.dtype:
    # bf16 on GPUs when asked; fp32 on CPU, where bf16 matmuls are slow and inexact.
    return torch.bfloat16 if bf16 and torch.cuda.is_available() else torch.float32


def load_model(model_args: ModelArgs, tokenizer, *, bf16: bool = False, seed: int = 42) -> PreTrainedModel:
    dtype = compute_dtype(bf16)
    attn = attention_implementation(model_args)
    name = model_args.model_name_or_path
    if name == TINY_NAME:
        # Same seed on every rank -> the same initial weights everywhere.
        set_seed(seed)
        config = tiny_llama_config(vocab_size=len(tokenizer))
        config.bos_token_id = tokenizer.bos_token_id
        config.eos_token_id = tokenizer.eos_token_id
        config.pad_token_id = tokenizer.pad_token_id
        config._attn_implementation = attn
        model = LlamaForCausalLM(config).to(dtype)
    else:
        if not (Path(name).exists() or "/" in name):
            raise FileNotFoundError(
                f"model {name!r} is neither a local directory nor a hub name (owner/model); "
                "use 'tiny' for the embedded default")
        model = AutoModelForCausalLM.from_pretrained(name, dtype=dtype, attn_implementation=attn)
    if model.config.pad_token_id is None:
        model.config.pad_token_id = tokenizer.pad_token_id
    if model_args.gradient_checkpointing:
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
        model.config.use_cache = False
    return model
