"""The layout planner: shapes, memory arithmetic, ranking, the CLI and --layout auto."""
from __future__ import annotations

import json

import pytest

from decomptune.models.presets import FALCON3_7B
from decomptune.parallel.layout import validate
from decomptune.parallel.plan import (GB, Candidate, Hardware, ModelShape, estimate, first_choice, load_shape,
                                      memory, plan, stage_params)
from decomptune.parallel.plan_cli import main as plan_main

FALCON = ModelShape.from_config(FALCON3_7B)


def test_falcon3_7b_shape_is_known_without_a_download():
    shape, source = load_shape("falcon3-7b")
    assert shape == FALCON and "preset" in source
    assert abs(shape.total_params() - 7.456e9) / 7.456e9 < 0.005  # model card: ~7.46 B


def test_any_config_json_is_read(tmp_path):
    config = dict(FALCON3_7B, num_hidden_layers=2)
    (tmp_path / "config.json").write_text(json.dumps(config))
    shape, _ = load_shape(str(tmp_path))
    assert shape.num_hidden_layers == 2 and shape.head_dim == 256
    with pytest.raises(ValueError, match="not a preset"):
        load_shape(str(tmp_path / "missing.json"))


def test_pipeline_stages_hold_all_parameters_once():
    for tp, pp in ((1, 2), (2, 2), (1, 4), (4, 7)):
        stages = stage_params(FALCON, tp, pp)
        assert len(stages) == pp and min(stages) > 0
        split = FALCON.num_hidden_layers * FALCON.block_split_params()
        assert sum(stages) == FALCON.total_params() - split + split // tp
    # Balanced: no stage much above the mean (embedding and head are each one layer).
    stages = stage_params(FALCON, 1, 2)
    assert max(stages) < 1.1 * sum(stages) / 2


def test_zero_stages_shard_what_they_promise():
    hw = Hardware(gpus=8, gpu_mem_gb=80)
    mems = {z: memory(FALCON, Candidate(1, 1, 8, z), hw, 2048) for z in range(4)}
    psi = FALCON.total_params()
    assert mems[0].params == mems[1].params == mems[2].params == 2 * psi
    assert mems[3].params == pytest.approx(2 * psi / 8)
    assert mems[0].grads == 2 * psi and mems[2].grads == pytest.approx(2 * psi / 8)
    assert mems[1].grads == pytest.approx(4 * psi / 8)  # ZeRO-1's fp32 gradient partition
    assert mems[1].optimizer == pytest.approx(16 * psi / 8) and mems[1].optimizer < mems[0].optimizer
    assert mems[0].model_states > mems[1].model_states > mems[2].model_states > mems[3].model_states
    offloaded = memory(FALCON, Candidate(1, 1, 8, 3, True, True), hw, 2048)
    assert offloaded.optimizer == 0 and offloaded.params == 0 and offloaded.host > 0


def test_checkpointing_and_tp_cut_activations_and_cost_time():
    hw = Hardware(gpus=4, gpu_mem_gb=80)
    plain, ckpt = (estimate(FALCON, Candidate(1, 1, 4, 1, micro_batch=4, grad_checkpointing=g), hw, 4096)
                   for g in (False, True))
    assert ckpt.memory.activations < plain.memory.activations / 2
    assert ckpt.step_time_s > plain.step_time_s
    tp2 = estimate(FALCON, Candidate(2, 1, 2, 1, micro_batch=4), hw, 4096)
    assert tp2.memory.activations < plain.memory.activations and tp2.breakdown["tensor"] > 0


def test_ranking_puts_fitting_layouts_first_fastest_first():
    hw = Hardware(gpus=4, gpu_mem_gb=80)
    ranked = plan(FALCON, hw, 2048)
    fits = [e.fits for e in ranked]
    assert fits[0] and fits == sorted(fits, reverse=True)
    speeds = [e.tokens_per_s for e in ranked if e.fits]
    assert speeds == sorted(speeds, reverse=True)
    for e in ranked:
        assert e.fits == (e.memory.total <= 80 * GB)
        assert e.candidate.tp in (1, 2, 4)  # Falcon3-7B has 4 kv heads
        validate(e.candidate.layout(), FALCON3_7B, 4)  # every candidate is a runnable layout
    assert any(not e.fits for e in ranked)  # 7B on 80 GB: plain ZeRO-0 does not fit


def test_nothing_fits_says_what_the_smallest_needs():
    with pytest.raises(ValueError, match="no layout fits 1 device.*smallest layout needs"):
        first_choice(FALCON, Hardware(gpus=1, gpu_mem_gb=8), 4096)


def test_plan_cli_prints_a_table_and_json(capsys):
    assert plan_main(["--model", "falcon3-7b", "--gpus", "4", "--gpu-mem", "80", "--seq-len", "2048", "--top", "0"]) == 0
    out = capsys.readouterr().out
    assert "first choice: --layout" in out and "params" in out and "NO" in out
    assert plan_main(["--model", "falcon3-7b", "--gpus", "1", "--gpu-mem", "8", "--json"]) == 1  # nothing fits
    rows = json.loads(capsys.readouterr().out)["layouts"]
    assert rows and not any(r["fits"] for r in rows)
    assert plan_main(["--model", "nope", "--gpus", "1", "--gpu-mem", "8"]) == 2


def test_train_layout_auto_takes_the_first_choice(monkeypatch):
    from decomptune.config import RunConfig
    from decomptune.parallel import plan as plan_module
    from decomptune.train.run import make_plan
    from decomptune.tokenizer import load_tokenizer

    cfg = RunConfig()
    cfg.model.model_name_or_path = "tiny"
    cfg.data.model_max_length = 512
    monkeypatch.setattr(plan_module, "detect_hardware", lambda world: Hardware.cpu(world, 1.0))
    result = make_plan(cfg, "auto", 2, load_tokenizer(None))
    best = first_choice(ModelShape.from_config(result.model_config), Hardware.cpu(2, 1.0),
                        512, cfg.train.per_device_train_batch_size, cfg.train.gradient_accumulation_steps)
    assert result.layout == best.candidate.layout()
