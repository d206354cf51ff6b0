"""Load a tokenizer: the one shipped with the package ("tiny") or any Hugging Face one."""
from __future__ import annotations

import logging
from pathlib import Path

from transformers import AutoTokenizer, PreTrainedTokenizerBase

from decomptune.errors import UserError

log = logging.getLogger(__name__)

# Trained by scripts/train_tokenizer.py on redistributable C; see its README.md.
SHIPPED_TOKENIZER_DIR = Path(__file__).parent / "assets" / "tokenizer"
SHIPPED_NAMES = (None, "", "tiny")


def load_tokenizer(name_or_path: str | None) -> PreTrainedTokenizerBase:
    """None/"tiny" -> the shipped tokenizer; otherwise AutoTokenizer.from_pretrained.

    Every tokenizer returned has a pad token: when the model's has none (most causal LMs),
    EOS stands in. Padding positions are masked out, so which id pads does not matter.
    """
    source = SHIPPED_TOKENIZER_DIR if name_or_path in SHIPPED_NAMES else name_or_path
    try:
        tokenizer = AutoTokenizer.from_pretrained(source)
    except (OSError, ValueError) as err:
        raise UserError(
            f"could not load a tokenizer from {str(source)!r}: {err}\n"
            "Give a local directory holding tokenizer files, a hub name (with the hub reachable), "
            "or 'tiny' for the tokenizer shipped with decomptune."
        ) from err
    if not tokenizer.is_fast:
        # The data pipeline relies on fast, batched tokenization.
        log.warning("tokenizer %s is not a fast tokenizer; tokenization will be slow", source)
    if tokenizer.pad_token is None:
        if tokenizer.eos_token is None:
            raise ValueError(
                f"tokenizer {source} has neither a pad token nor an EOS token; "
                "training needs EOS to end targets: use a tokenizer that defines eos_token"
            )
        log.info("tokenizer %s has no pad token; using EOS (%r) for padding", source, tokenizer.eos_token)
        tokenizer.pad_token = tokenizer.eos_token
    return tokenizer
