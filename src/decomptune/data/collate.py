"""Batch padding for training: right-padded to the batch's longest row, rounded up."""
from __future__ import annotations

import torch

from .tokenize import IGNORE_INDEX


class DecompileCollator:
    """features [{"input_ids": [...], "labels": [...]}, ...] -> input_ids, attention_mask,
    labels tensors, right-padded to the longest row rounded up to pad_to_multiple_of
    (tensor cores like multiples of 8); padded labels are -100 so the loss skips them."""

    def __init__(self, tokenizer, pad_to_multiple_of: int | None = 8):
        pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
        if pad_id is None:
            raise ValueError("the tokenizer has neither a pad nor an EOS token to pad batches with")
        self.pad_token_id = pad_id
        self.pad_to_multiple_of = pad_to_multiple_of or 1

    def __call__(self, features: list[dict]) -> dict[str, torch.Tensor]:
        longest = max(len(f["input_ids"]) for f in features)
        width = -(-longest // self.pad_to_multiple_of) * self.pad_to_multiple_of
        input_ids = torch.full((len(features), width), self.pad_token_id, dtype=torch.long)
        labels = torch.full((len(features), width), IGNORE_INDEX, dtype=torch.long)
        attention_mask = torch.zeros((len(features), width), dtype=torch.long)
        for row, f in enumerate(features):
            n = len(f["input_ids"])
            if len(f["labels"]) != n:
                raise ValueError(f"batch row {row}: {n} input_ids but {len(f['labels'])} labels")
            input_ids[row, :n] = torch.as_tensor(f["input_ids"], dtype=torch.long)
            labels[row, :n] = torch.as_tensor(f["labels"], dtype=torch.long)
            attention_mask[row, :n] = 1
        return {"input_ids": input_ids, "attention_mask": attention_mask, "labels": labels}
