"""Packing: whole examples per row, no attention between them, the same loss as unpacked."""
from __future__ import annotations

import datasets
import numpy as np
import pytest
import torch

from decomptune.config import DataArgs
from decomptune.data import DecompileCollator, PackedCollator, make_collator, pack_dataset, prepare_dataset
from decomptune.data.packing import add_length_column, plan_rows
from decomptune.models.tiny import tiny_llama_config
from decomptune.tokenizer import load_tokenizer

MAX_LEN = 256  # tokenizing limit
ROW_LEN = 1024  # packed row length


@pytest.fixture(scope="module")
def tokenizer():
    return load_tokenizer(None)


@pytest.fixture(scope="module")
def examples(tokenizer):
    ds, _ = prepare_dataset(DataArgs(data_path="sample", model_max_length=MAX_LEN, max_rows=24), tokenizer)
    return ds


def test_plan_rows_places_every_example_once_within_the_limit():
    lengths = np.random.default_rng(0).integers(5, 300, size=500)
    rows = plan_rows(lengths, 512)
    placed = sorted(i for row in rows for i in row)
    assert placed == list(range(500))
    assert max(sum(lengths[i] for i in row) for row in rows) <= 512
    # Best-fit decreasing on many short examples: rows come out nearly full.
    assert lengths.sum() / (len(rows) * 512) > 0.98


def test_plan_rows_refuses_an_example_longer_than_a_row():
    with pytest.raises(ValueError, match="example 1 has 600 tokens"):
        plan_rows([10, 600], 512)


def test_packed_rows_restart_positions_and_mask_each_examples_first_token(examples):
    packed = pack_dataset(examples, ROW_LEN)
    assert len(packed) < len(examples)
    total = 0
    originals = {tuple(r["input_ids"]): r["labels"] for r in examples}
    for row in packed:
        ids, labels, pos = row["input_ids"], row["labels"], row["position_ids"]
        assert len(ids) == len(labels) == len(pos) <= ROW_LEN
        starts = [i for i, p in enumerate(pos) if p == 0] + [len(ids)]
        for a, b in zip(starts, starts[1:]):
            assert pos[a:b] == list(range(b - a))
            original = originals[tuple(ids[a:b])]  # each block is one whole example
            assert labels[a] == -100 and labels[a + 1:b] == original[1:]
            total += 1
    assert total == len(examples)


def test_packed_collator_pads_as_its_own_block(tokenizer):
    batch = PackedCollator(tokenizer)([{"input_ids": [5, 6, 7], "labels": [-100, 6, 7], "position_ids": [0, 1, 2]},
                                       {"input_ids": [5], "labels": [-100], "position_ids": [0]}])
    # No attention_mask: positions carry the example boundaries (and a KV cache would hide them).
    assert set(batch) == {"input_ids", "labels", "position_ids", "use_cache"} and batch["use_cache"] is False
    assert batch["input_ids"].shape == (2, 8)
    assert batch["position_ids"][0].tolist() == [0, 1, 2, 0, 1, 2, 3, 4]
    assert batch["labels"][1].tolist() == [-100] * 8
    assert batch["input_ids"][1, 1:].eq(tokenizer.pad_token_id).all()


def test_flattened_batches_take_flash_attentions_variable_length_path(tokenizer, examples):
    from transformers.modeling_flash_attention_utils import _is_packed_sequence

    rows = list(pack_dataset(examples, ROW_LEN))[:3]
    batch = PackedCollator(tokenizer, flatten=True)(rows)
    assert batch["input_ids"].shape[0] == 1  # flash-attention reads packing from position ids for one row only
    assert batch["input_ids"][0, :sum(len(r["input_ids"]) for r in rows)].tolist() == \
        [t for r in rows for t in r["input_ids"]]
    assert _is_packed_sequence(batch["position_ids"], batch_size=1)
    model = _tiny_model(tokenizer, "sdpa")
    with torch.no_grad():  # and the same loss as the unflattened batch (sdpa: the same block mask)
        flat_loss = model(**batch).loss.item()
        row_loss = model(**PackedCollator(tokenizer)(rows)).loss.item()
    assert abs(flat_loss - row_loss) < 1e-5


def test_packed_collator_names_a_row_without_positions(tokenizer):
    with pytest.raises(ValueError, match="batch row 0 has no position_ids"):
        PackedCollator(tokenizer)([{"input_ids": [1], "labels": [1]}])


def _tiny_model(tokenizer, attn: str):
    from transformers import LlamaForCausalLM

    torch.manual_seed(0)
    config = tiny_llama_config(vocab_size=len(tokenizer))
    config._attn_implementation = attn
    return LlamaForCausalLM(config).eval()


def _unpacked_loss(model, tokenizer, examples) -> float:
    """Sum of token losses over every target token / number of target tokens, one example at a time."""
    total, count = 0.0, 0
    collate = DecompileCollator(tokenizer)
    with torch.no_grad():
        for row in examples:
            batch = collate([row])
            logits = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
            targets = batch["labels"][:, 1:]
            total += torch.nn.functional.cross_entropy(logits[:, :-1].flatten(0, 1), targets.flatten(),
                                                       ignore_index=-100, reduction="sum").item()
            count += int((targets != -100).sum())
    return total / count


@pytest.mark.parametrize("attn", ["sdpa", "eager"])
def test_packed_loss_equals_unpacked_loss(tokenizer, examples, attn):
    model = _tiny_model(tokenizer, attn)
    packed = pack_dataset(examples, ROW_LEN)
    batch = PackedCollator(tokenizer)(list(packed))
    assert batch["input_ids"].shape[0] < len(examples)  # really several examples per row
    with torch.no_grad():
        packed_loss = model(**batch).loss.item()  # HF: mean over the batch's target tokens
    reference = _unpacked_loss(model, tokenizer, examples)
    assert abs(packed_loss - reference) < 1e-5, (packed_loss, reference)
    # Without the restarting positions the examples see each other and the loss moves.
    flat = {**batch, "position_ids": torch.arange(batch["input_ids"].shape[1]).expand_as(batch["input_ids"])}
    with torch.no_grad():
        assert abs(model(**flat).loss.item() - reference) > 1e-3


def test_pipeline_stages_give_the_unpacked_loss_on_packed_rows(tokenizer, examples):
    """The pipeline path's layers (models.llama) with the stage tuple built by pipe_data."""
    from decomptune.models.llama import DecoderLayerPipe, EmbeddingPipe, HeadPipe, NormPipe, causal_lm_loss
    from decomptune.train.pipe_data import pipeline_inputs, target_count

    model = _tiny_model(tokenizer, "sdpa")
    config = model.config
    embed, norm, head = EmbeddingPipe(config), NormPipe(config), HeadPipe(config)
    embed.embed_tokens.load_state_dict(model.model.embed_tokens.state_dict())
    norm.norm.load_state_dict(model.model.norm.state_dict())
    head.lm_head.load_state_dict(model.lm_head.state_dict())
    blocks = []
    for i, layer in enumerate(model.model.layers):
        block = DecoderLayerPipe(config, i).eval()
        block.load_state_dict(layer.state_dict(), strict=False)
        blocks.append(block)
    packed = list(pack_dataset(examples, ROW_LEN))
    batch = PackedCollator(tokenizer)(packed)
    targets = sum(target_count(r["labels"]) for r in packed)
    with torch.no_grad():
        x = embed(pipeline_inputs(batch))
        for block in blocks:
            x = block(x)
        loss = causal_lm_loss(head(norm(x)), (batch["labels"], torch.tensor([1.0 / targets])))
    assert abs(loss.item() - _unpacked_loss(model, tokenizer, examples)) < 1e-5


def test_packed_batches_count_padding_as_computed_not_real(tokenizer, examples):
    from decomptune.train.reporting import batch_token_counts

    packed = list(pack_dataset(examples, ROW_LEN))
    batch = PackedCollator(tokenizer)(packed)
    real, computed = batch_token_counts(batch)
    assert real == sum(len(r["input_ids"]) for r in packed)
    assert computed == batch["input_ids"].numel() > real


def test_prepare_dataset_packs_when_asked(tokenizer):
    args = DataArgs(data_path="sample", model_max_length=ROW_LEN, max_rows=24, packing=True)
    ds, report = prepare_dataset(args, tokenizer)
    assert "position_ids" in ds.column_names and len(ds) < report.kept
    assert isinstance(make_collator(args, tokenizer), PackedCollator)
    with pytest.raises(Exception, match="alternatives"):
        prepare_dataset(DataArgs(data_path="sample", max_rows=4, packing=True, group_by_length=True), tokenizer)


def test_group_by_length_sorts_each_pipeline_step_without_changing_its_rows(tokenizer):
    from decomptune.train.pipe_data import StepPlan, micro_batch_stream

    rows = [{"input_ids": [3] * n, "labels": [-100] + [3] * (n - 1)} for n in (5, 30, 9, 17, 2, 25, 11, 8)]
    plain = datasets.Dataset.from_list(rows)
    grouped = add_length_column(plain)
    plan = StepPlan(num_rows=8, micro_batch_size=2, micro_batches=2, dp=2, seed=3)
    collate = DecompileCollator(tokenizer, pad_to_multiple_of=1)

    def step_batches(ds, dp_rank):
        stream = micro_batch_stream(ds, collate, plan, dp_rank)
        return [next(stream) for _ in range(plan.micro_batches)]

    def widths_and_rows(ds):
        out = [step_batches(ds, r) for r in range(plan.dp)]
        widths = sum(b[0][0].numel() for rank in out for b in rank)
        tokens = sorted(int(m.sum()) for rank in out for b in rank for m in b[0][1])
        return widths, tokens, out[0][0][1][1]

    plain_cost, plain_rows, plain_scale = widths_and_rows(plain)
    grouped_cost, grouped_rows, grouped_scale = widths_and_rows(grouped)
    assert grouped_rows == plain_rows  # the same examples in the step
    assert torch.equal(plain_scale, grouped_scale)  # so the same loss normalisation
    assert grouped_cost < plain_cost
