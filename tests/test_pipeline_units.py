"""Fast, single-process checks of the pipeline path's pieces (no process group)."""
from __future__ import annotations

import json
from types import SimpleNamespace

import pytest
import torch
from transformers import LlamaForCausalLM

from decomptune import checkpoint
from decomptune.config import RunConfig
from decomptune.models import llama
from decomptune.models.tiny import tiny_llama_config
from decomptune.train.pipe_data import StepPlan, micro_batch_stream, pipeline_inputs, target_count
from decomptune.train.pipeline import Grid, pipeline_ds_config

VOCAB = 64


def tiny_model(**overrides) -> LlamaForCausalLM:
    torch.manual_seed(0)
    config = tiny_llama_config(vocab_size=VOCAB, pad_token_id=0, **overrides)
    config._attn_implementation = "sdpa"
    return LlamaForCausalLM(config).eval()


def padded_batch(lengths, prompt=2, seed=0):
    g = torch.Generator().manual_seed(seed)
    width = -(-max(lengths) // 8) * 8
    ids = torch.zeros((len(lengths), width), dtype=torch.long)
    labels = torch.full_like(ids, -100)
    mask = torch.zeros_like(ids)
    for i, n in enumerate(lengths):
        ids[i, :n] = torch.randint(1, VOCAB, (n,), generator=g)
        labels[i, prompt:n] = ids[i, prompt:n]
        mask[i, :n] = 1
    return {"input_ids": ids, "attention_mask": mask, "labels": labels}


@pytest.mark.parametrize("name,dim", [("self_attn.q_proj.weight", 0), ("self_attn.k_proj.bias", 0),
                                      ("mlp.up_proj.weight", 0), ("self_attn.o_proj.weight", 1),
                                      ("mlp.down_proj.weight", 1), ("mlp.down_proj.bias", None),
                                      ("input_layernorm.weight", None), ("embed_tokens.weight", None)])
def test_tensor_parallel_slices_glue_back_to_the_full_weight(name, dim):
    assert llama.shard_dim(name) == dim
    full = torch.randn(8, 6) if name.endswith("weight") and "norm" not in name else torch.randn(8)
    shards = [llama.take_shard(full, name, 2, r) for r in range(2)]
    if dim is not None:
        assert shards[0].shape[dim] == full.shape[dim] // 2
    assert torch.equal(llama.join_shards(shards, name), full)


def test_tp_that_does_not_divide_kv_heads_is_refused_with_choices():
    config = tiny_llama_config(vocab_size=VOCAB)  # 4 q heads, 2 kv heads
    llama.check_tensor_parallel(config, 2)
    with pytest.raises(ValueError, match=r"tp=4 does not divide the model's num_key_value_heads=2; choose tp from \[1, 2\]"):
        llama.check_tensor_parallel(config, 4)


def test_stage_layers_chained_give_the_hf_logits_with_padding():
    model = tiny_model()
    config = model.config
    specs = [llama.EmbeddingPipe(config)]
    specs += [llama.DecoderLayerPipe(config, i) for i in range(config.num_hidden_layers)]
    specs += [llama.NormPipe(config), llama.HeadPipe(config)]
    fake_pipe = SimpleNamespace(forward_funcs=specs, _local_start=0)
    llama.load_stage_weights(fake_pipe, config, llama.weight_source(model), tp=1, tp_rank=0)

    batch = padded_batch([5, 13, 9])
    x = pipeline_inputs(batch)
    with torch.no_grad():
        for layer in specs:
            x = layer(x)
        expected = model(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
    real = batch["attention_mask"].bool()
    assert torch.allclose(x[real], expected[real], atol=1e-5)


def test_scaled_micro_batch_losses_sum_to_the_whole_batch_mean():
    """Micro-batches of unequal target counts: DeepSpeed's mean of our scaled losses is the
    token mean over the whole step, not the mean of per-micro-batch means."""
    model = tiny_model()
    lengths = [5, 16, 7, 11]
    whole = padded_batch(lengths)
    with torch.no_grad():
        expected = model(**whole).loss
        targets = sum(target_count(row[:n]) for row, n in zip(whole["labels"], lengths))
        micro_batches = 2
        scale = torch.tensor([micro_batches / targets])
        losses, naive = [], []
        for part in (slice(0, 2), slice(2, 4)):
            mb = {k: v[part] for k, v in whole.items()}
            out = model(**mb)
            losses.append(llama.causal_lm_loss(out.logits, (mb["labels"], scale)))
            naive.append(out.loss)
    assert torch.allclose(sum(losses) / micro_batches, expected, atol=1e-6)
    assert abs(float(sum(naive) / 2 - expected)) > 1e-3  # the mean of means would be wrong


def test_step_plan_gives_each_replica_its_own_share_and_replays_exactly():
    plan = StepPlan(num_rows=50, micro_batch_size=2, micro_batches=3, dp=2, seed=7)
    assert plan.steps_per_epoch == 4
    for step in (0, 3, 4, 9):
        shares = [plan.replica_rows(step, r) for r in range(2)]
        flat = [i for share in shares for mb in share for i in mb]
        assert flat == plan.rows(step) and len(set(flat)) == 12
    assert plan.rows(1) == StepPlan(50, 2, 3, 2, seed=7).rows(1)  # resume = same rows
    assert sorted(plan.rows(4)) != sorted(plan.rows(0))  # a new epoch reshuffles


def test_stream_scale_normalises_by_the_step_target_count():
    rows = [{"input_ids": list(range(1, n + 1)), "labels": [-100] * 2 + list(range(3, n + 1))}
            for n in (4, 9, 6, 12, 5, 8, 7, 10)]

    def collate(batch):
        return padded_batch([len(r["input_ids"]) for r in batch])  # shapes only matter here

    plan = StepPlan(len(rows), 2, 2, 2, seed=0)
    total = sum(target_count(rows[i]["labels"]) for i in plan.rows(0))
    stream = micro_batch_stream(rows, collate, plan, dp_rank=1)
    (_, (_, scale)), _ = next(stream), next(stream)
    assert float(scale) == pytest.approx(2 * 2 / total)


def test_too_few_rows_for_one_step_is_refused():
    with pytest.raises(ValueError, match="3 training rows cannot fill one step of 8"):
        StepPlan(3, 2, 2, 2, seed=0).rows(0)


def test_pipeline_ds_config_uses_zero1_and_refuses_what_pipelines_cannot_do():
    cfg = RunConfig()
    cfg.train.per_device_train_batch_size, cfg.layout.micro_batches, cfg.train.max_grad_norm = 2, 4, 0.3
    ds = pipeline_ds_config(cfg, Grid(tp=2, pp=2, dp=3))
    assert ds["train_batch_size"] == 2 * 4 * 3 and ds["gradient_accumulation_steps"] == 4
    assert ds["zero_optimization"]["stage"] == 1 and ds["gradient_clipping"] == 0.3
    cfg.layout.zero_stage = 2
    with pytest.raises(ValueError, match="ZeRO-2 cannot run with pipeline parallelism"):
        pipeline_ds_config(cfg, Grid(1, 2, 1))
    cfg.layout.zero_stage, cfg.layout.offload_optimizer = 1, True
    with pytest.raises(ValueError, match="offload is not supported in the pipeline path"):
        pipeline_ds_config(cfg, Grid(1, 2, 1))


def test_export_of_something_that_is_no_checkpoint_says_what_it_expected(tmp_path, capsys):
    assert checkpoint.main([str(tmp_path), str(tmp_path / "out")]) == 2
    assert "is not a decomptune pipeline checkpoint" in capsys.readouterr().err


def test_resume_into_another_layout_is_refused_with_the_export_route(tmp_path):
    step_dir = tmp_path / "checkpoints" / "step-3"
    step_dir.mkdir(parents=True)
    (step_dir / checkpoint.META_FILE).write_text(json.dumps({"step": 3, "tp": 2, "pp": 2, "dp": 1}))
    grid = SimpleNamespace(get_slice_parallel_world_size=lambda: 1, pipe_parallel_size=2, data_parallel_size=2)
    with pytest.raises(ValueError, match="resuming needs the same layout.*decomptune export"):
        checkpoint.load_pipeline_checkpoint(SimpleNamespace(grid=grid), step_dir)


def test_falcon3_7b_stages_balance_parameters_and_uniform_splits_decoder_blocks():
    """The counts DeepSpeed partitions by (built on the meta device, as our PipelineModule
    does): Falcon3-7B's 131K-vocab embedding and head weigh as much as ~2 blocks each."""
    from deepspeed.runtime.utils import partition_balanced
    from transformers import LlamaConfig

    config = LlamaConfig(vocab_size=131072, hidden_size=3072, intermediate_size=23040, num_hidden_layers=28,
                         num_attention_heads=12, num_key_value_heads=4, head_dim=256)
    config._attn_implementation = "sdpa"
    with torch.device("meta"):
        counts = [sum(p.numel() for p in spec.build().parameters()) for spec in llama.pipeline_layer_specs(config)]
    assert sum(counts) == pytest.approx(7.46e9, rel=1e-3)
    parts = partition_balanced(counts, 4)
    stage_params = [sum(counts[a:b]) for a, b in zip(parts, parts[1:])]
    assert max(stage_params) / min(stage_params) < 1.05
    is_block = [int(kind.startswith(llama.DECODER)) for kind in llama.layer_kinds(config)]
    uniform = partition_balanced(is_block, 2)
    assert [sum(is_block[a:b]) for a, b in zip(uniform, uniform[1:])] == [14, 14]
