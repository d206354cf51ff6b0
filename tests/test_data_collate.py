import pytest
import torch

from decomptune.data import DecompileCollator, IGNORE_INDEX
from decomptune.tokenizer import load_tokenizer


@pytest.fixture(scope="module")
def tokenizer():
    return load_tokenizer(None)


def _features():
    # Row 0: 3 tokens (2 prompt), row 1: 10 tokens (4 prompt).
    return [
        {"input_ids": [0, 11, 12], "labels": [-100, -100, 12]},
        {"input_ids": list(range(20, 30)), "labels": [-100] * 4 + list(range(24, 30))},
    ]


def test_collator_pads_right_to_a_multiple_of_8(tokenizer):
    batch = DecompileCollator(tokenizer, pad_to_multiple_of=8)(_features())
    assert set(batch) == {"input_ids", "attention_mask", "labels"}
    assert all(t.shape == (2, 16) and t.dtype == torch.long for t in batch.values())
    pad = tokenizer.pad_token_id
    assert batch["input_ids"][0].tolist() == [0, 11, 12] + [pad] * 13
    assert batch["input_ids"][1].tolist() == list(range(20, 30)) + [pad] * 6
    assert batch["attention_mask"].sum(dim=1).tolist() == [3, 10]
    assert batch["attention_mask"][0].tolist() == [1] * 3 + [0] * 13


def test_collator_pads_labels_with_minus_100(tokenizer):
    labels = DecompileCollator(tokenizer)(_features())["labels"]
    assert labels[0].tolist() == [-100, -100, 12] + [IGNORE_INDEX] * 13
    assert labels[1].tolist() == [-100] * 4 + list(range(24, 30)) + [IGNORE_INDEX] * 6


def test_collator_exact_multiple_and_no_rounding(tokenizer):
    eight = [{"input_ids": list(range(8)), "labels": list(range(8))}]
    assert DecompileCollator(tokenizer, pad_to_multiple_of=8)(eight)["input_ids"].shape == (1, 8)
    assert DecompileCollator(tokenizer, pad_to_multiple_of=None)(_features())["input_ids"].shape == (2, 10)


def test_collator_pads_with_eos_when_tokenizer_has_no_pad():
    tok = load_tokenizer(None)
    tok.pad_token = None
    batch = DecompileCollator(tok)(_features())
    assert batch["input_ids"][0, 3:].eq(tok.eos_token_id).all()


def test_collator_refuses_labels_of_the_wrong_length(tokenizer):
    with pytest.raises(ValueError, match="row 0"):
        DecompileCollator(tokenizer)([{"input_ids": [1, 2, 3], "labels": [1, 2]}])
