"""Model loading: the embedded tiny model, local HF directories, attention choice, checkpointing."""
import logging

import pytest
import torch

from decomptune.config import ModelArgs
from decomptune.models.loading import attention_implementation, load_model
from decomptune.tokenizer import load_tokenizer


@pytest.fixture(scope="module")
def tokenizer():
    return load_tokenizer(None)


def batch(tokenizer):
    ids = tokenizer(["int f(int x) { return x + 1; }", "void g(void) {}"], padding=True, return_tensors="pt")
    labels = ids["input_ids"].masked_fill(ids["attention_mask"] == 0, -100)
    return {**ids, "labels": labels}


def test_tiny_model_is_a_gqa_llama_with_the_tokenizers_special_ids(tokenizer):
    model = load_model(ModelArgs(), tokenizer, seed=1)
    cfg = model.config
    assert cfg.model_type == "llama" and cfg.num_key_value_heads < cfg.num_attention_heads
    assert cfg.vocab_size == len(tokenizer)
    assert (cfg.eos_token_id, cfg.pad_token_id) == (tokenizer.eos_token_id, tokenizer.pad_token_id)


def test_same_seed_gives_the_same_initial_weights_on_every_rank(tokenizer):
    a, b = load_model(ModelArgs(), tokenizer, seed=3), load_model(ModelArgs(), tokenizer, seed=3)
    assert all(torch.equal(x, y) for x, y in zip(a.state_dict().values(), b.state_dict().values()))


def test_flash_attention_without_the_package_warns_and_uses_sdpa(caplog):
    with caplog.at_level(logging.WARNING):
        assert attention_implementation(ModelArgs(use_flash_attention=True)) in ("sdpa", "flash_attention_2")
    if not torch.cuda.is_available():
        assert "using PyTorch sdpa" in caplog.text


def test_gradient_checkpointing_changes_memory_not_results(tokenizer):
    plain = load_model(ModelArgs(), tokenizer, seed=5)
    ckpt = load_model(ModelArgs(gradient_checkpointing=True), tokenizer, seed=5)
    assert ckpt.is_gradient_checkpointing and not plain.is_gradient_checkpointing
    plain.train(), ckpt.train()
    b = batch(tokenizer)
    loss_a, loss_b = plain(**b).loss, ckpt(**b).loss
    loss_a.backward(), loss_b.backward()
    assert torch.allclose(loss_a, loss_b, atol=1e-6)
    grads = [(p.grad, q.grad) for p, q in zip(plain.parameters(), ckpt.parameters())]
    assert max((x - y).abs().max().item() for x, y in grads) < 1e-5


def test_a_saved_model_directory_loads_back_with_the_same_logits(tokenizer, tmp_path):
    model = load_model(ModelArgs(), tokenizer, seed=9).eval()
    model.save_pretrained(tmp_path / "m")
    again = load_model(ModelArgs(model_name_or_path=str(tmp_path / "m")), tokenizer).eval()
    b = batch(tokenizer)
    with torch.no_grad():
        assert torch.equal(model(input_ids=b["input_ids"]).logits, again(input_ids=b["input_ids"]).logits)


def test_a_missing_model_path_names_it_and_the_fix(tokenizer):
    with pytest.raises(FileNotFoundError, match=r"nosuchmodel.*'tiny'"):
        load_model(ModelArgs(model_name_or_path="nosuchmodel"), tokenizer)
