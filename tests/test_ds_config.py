"""The DeepSpeed config: built from a layout, checked against what DeepSpeed really reads."""
import json
from pathlib import Path

import pytest
from deepspeed.runtime.config import DeepSpeedConfig

from decomptune.config import TrainArgs
from decomptune.parallel import ds_keys
from decomptune.parallel.check_cli import main as check_config_main
from decomptune.parallel.ds_config import (
    DeepSpeedConfigError,
    build_ds_config,
    build_pipeline_ds_config,
    check_ds_config,
    layout_from_ds_config,
    load_and_check,
    read_ds_json,
)
from decomptune.parallel.ds_fix import nearest_valid_config
from decomptune.parallel.layout import Layout

TUTORIAL = Path(__file__).parent / "fixtures" / "tutorial_ds.json"
ARGS = TrainArgs(per_device_train_batch_size=2, gradient_accumulation_steps=3, max_grad_norm=0.5)


def refusal(cfg, **kw) -> str:
    with pytest.raises(DeepSpeedConfigError) as err:
        check_ds_config(cfg, **kw)
    return str(err.value)


def tutorial() -> dict:
    return read_ds_json(TUTORIAL)


# ---------------------------------------------------------------- keys come from DeepSpeed itself


def test_known_keys_are_read_from_installed_deepspeed():
    keys = ds_keys.top_level_keys()
    for key in ("zero_optimization", "train_batch_size", "train_micro_batch_size_per_gpu", "optimizer",
                "scheduler", "bf16", "fp16", "gradient_clipping", "tensor_parallel", "steps_per_print"):
        assert key in keys
    for ignored in ("model_parallel", "deepspeed_transformer_kernel", "zero_optimisation"):
        assert ignored not in keys
    assert {"stage", "offload_optimizer", "offload_param", "overlap_comm"} <= ds_keys.zero_keys()


def test_hf_auto_keys_are_read_from_transformers():
    filled = ds_keys.hf_auto_filled_keys()
    assert {"train_batch_size", "gradient_clipping", "optimizer.params.lr", "bf16.enabled",
            "scheduler.params.warmup_num_steps", "zero_optimization.reduce_bucket_size"} <= filled
    assert "steps_per_print" not in filled


def test_deepspeed_really_ignores_what_we_refuse():
    # The claims in our messages, checked against DeepSpeed's own parser (single process).
    parsed = DeepSpeedConfig({"train_micro_batch_size_per_gpu": 1, "model_parallel": {"pipeline": {"stages": 2}},
                              "deepspeed_transformer_kernel": True, "zero_optimisation": {"stage": 3}})
    assert parsed.zero_optimization_stage == 0  # the typo'd section is ignored: no ZeRO at all
    with pytest.raises(AssertionError, match="train_batch_size or train_micro_batch_size_per_gpu"):
        DeepSpeedConfig(tutorial())


# ---------------------------------------------------------------- the tutorial's ds.json


def test_tutorial_ds_json_is_refused_with_every_reason():
    msg = refusal(tutorial())
    reasons = {
        "model_parallel": "'model_parallel': DeepSpeed has no such key and never reads it",
        "what really happens": "plain ZeRO data parallelism",
        "layout instead": "--layout tp=2,pp=2,zero=1,offload=optimizer",
        "kernel flag": "'deepspeed_transformer_kernel': DeepSpeed never reads this key",
        "offload_param at stage 2": "'zero_optimization.offload_param' with stage 2",
        "dropped silently": "silently drops this setting",
        "pipeline with ZeRO-2": "pipeline parallelism (pp=2) with 'zero_optimization.stage' = 2",
        "no batch size": "no batch size: neither 'train_batch_size' nor 'train_micro_batch_size_per_gpu'",
    }
    missing = [name for name, text in reasons.items() if text not in msg]
    assert not missing, f"missing reasons {missing} in:\n{msg}"


def test_tutorial_under_hf_trainer_layout_still_refused_but_autos_allowed():
    cfg = tutorial()
    del cfg["model_parallel"]
    msg = refusal(cfg, layout=Layout(tp=1, pp=1, dp=4, zero_stage=2, offload_optimizer=True), world_size=4)
    assert "\"auto\"" not in msg.split("no batch size")[0]  # the HF Trainer fills those autos
    assert "no batch size" in msg and '"train_batch_size": "auto"' in msg


# ---------------------------------------------------------------- single refusals


def test_typo_top_level_key_is_refused_with_the_right_name():
    msg = refusal({"train_micro_batch_size_per_gpu": 1, "zero_optimisation": {"stage": 2}})
    assert "'zero_optimisation': DeepSpeed never reads this key" in msg
    assert "ZeRO stays off" in msg and "rename it to 'zero_optimization'" in msg


def test_unknown_top_level_key_without_a_close_match_is_refused():
    msg = refusal({"train_micro_batch_size_per_gpu": 1, "turbo_mode": True})
    assert "'turbo_mode': DeepSpeed never reads this key" in msg and "remove it" in msg


def test_removed_deepspeed_key_is_refused_with_deepspeeds_reason():
    assert "'amp': DeepSpeed refuses it at start-up" in refusal({"train_micro_batch_size_per_gpu": 1, "amp": {}})


def test_zero_stage_must_be_0_to_3():
    assert "'zero_optimization.stage' = 4" in refusal({"train_batch_size": 8, "zero_optimization": {"stage": 4}})
    assert "'zero_optimization.stage' = 'auto'" in refusal({"train_batch_size": 8,
                                                             "zero_optimization": {"stage": "auto"}})


def test_unknown_zero_keys_are_refused():
    msg = refusal({"train_batch_size": 8, "zero_optimization": {"stage": 2, "overlap_com": True,
                                                                "offload_optimizer": {"device": "cpu", "pin": 1}}})
    assert "'zero_optimization.overlap_com'" in msg and "rename it to 'overlap_comm'" in msg
    assert "'zero_optimization.offload_optimizer.pin'" in msg


def test_optimizer_offload_at_stage0_is_refused():
    msg = refusal({"train_batch_size": 8, "zero_optimization": {"stage": 0, "offload_optimizer": {"device": "cpu"}}})
    assert "'zero_optimization.offload_optimizer' with stage 0" in msg


def test_batch_sizes_must_multiply_out_on_the_zero_path():
    cfg = {"train_batch_size": 10, "train_micro_batch_size_per_gpu": 4, "gradient_accumulation_steps": 1}
    msg = refusal(cfg, world_size=2)
    assert "'train_batch_size' = 10 does not multiply out" in msg and "4 * 1 * 2 = 8" in msg
    check_ds_config(dict(cfg, train_batch_size=8), world_size=2)
    assert "a multiple of 4 * 2" in refusal({"train_batch_size": 12, "train_micro_batch_size_per_gpu": 4},
                                            world_size=2)


def test_batch_sizes_count_dp_replicas_on_the_pipeline_path():
    layout = Layout(tp=2, pp=2, dp=2, zero_stage=1)
    cfg = {"train_batch_size": 32, "train_micro_batch_size_per_gpu": 2, "gradient_accumulation_steps": 4}
    msg = refusal(cfg, layout=layout, world_size=8)
    assert "2 * 4 * 2 = 16" in msg and "dp = 8/(tp*pp) = 2" in msg
    check_ds_config(dict(cfg, train_batch_size=16), layout=layout, world_size=8)


def test_auto_outside_what_the_trainer_fills_is_refused():
    msg = refusal({"train_batch_size": "auto", "steps_per_print": "auto"})
    assert "'steps_per_print' = \"auto\"" in msg and "train_batch_size' =" not in msg


def test_contradictions_with_the_layout_are_refused():
    cfg = {"train_batch_size": "auto", "zero_optimization": {"stage": 3, "offload_param": {"device": "cpu"}},
           "tensor_parallel": {"autotp_size": 2}}
    msg = refusal(cfg, layout=Layout(tp=1, pp=1, dp=2, zero_stage=1), world_size=2)
    assert "'zero_optimization.stage' = 3 contradicts the layout's zero=1" in msg
    assert "'zero_optimization.offload_param' offloads" in msg
    assert "'tensor_parallel.autotp_size' = 2 contradicts the layout" in msg


def test_contradictions_with_the_command_line_are_refused():
    cfg = {"train_micro_batch_size_per_gpu": 8, "gradient_accumulation_steps": "auto",
           "scheduler": {"type": "WarmupLR", "params": {}}}
    msg = refusal(cfg, train_args=ARGS)
    assert "'train_micro_batch_size_per_gpu' = 8 contradicts --per_device_train_batch_size 2" in msg
    assert "'scheduler' (WarmupLR) replaces --lr_scheduler_type cosine" in msg


# ---------------------------------------------------------------- building


@pytest.mark.parametrize("stage", [0, 1, 2, 3])
def test_build_zero_stages_gives_consistent_checked_config(stage):
    layout = Layout(tp=1, pp=1, dp=2, zero_stage=stage)
    cfg = build_ds_config(layout, ARGS, world_size=2, pin_memory=False)
    assert cfg["zero_optimization"]["stage"] == stage
    assert (cfg["train_micro_batch_size_per_gpu"], cfg["gradient_accumulation_steps"], cfg["train_batch_size"]) \
        == (2, 3, 12)
    assert cfg["gradient_clipping"] == 0.5 and cfg["bf16"] == {"enabled": False}
    assert "tensor_parallel" not in cfg and "optimizer" not in cfg
    assert ("stage3_gather_16bit_weights_on_model_save" in cfg["zero_optimization"]) == (stage == 3)
    check_ds_config(cfg, layout=layout, world_size=2, train_args=ARGS)


def test_build_offload_names_a_deepspeed_optimizer():
    layout = Layout(tp=1, pp=1, dp=1, zero_stage=3, offload_optimizer=True, offload_param=True)
    cfg = build_ds_config(layout, ARGS, world_size=1, pin_memory=False)
    zero = cfg["zero_optimization"]
    assert zero["offload_optimizer"]["device"] == "cpu" and zero["offload_param"]["device"] == "cpu"
    assert cfg["optimizer"]["type"] == "AdamW" and "scheduler" not in cfg
    check_ds_config(cfg, layout=layout, world_size=1, train_args=ARGS)
    stage2 = build_ds_config(Layout(zero_stage=2, offload_optimizer=True), ARGS, 1, pin_memory=False)
    assert "offload_param" not in stage2["zero_optimization"]


def test_build_autotp_counts_every_process_in_the_batch():
    layout = Layout(tp=2, pp=1, dp=2, zero_stage=2)
    cfg = build_ds_config(layout, ARGS, world_size=4, pin_memory=False)
    assert cfg["tensor_parallel"] == {"autotp_size": 2}
    assert cfg["train_batch_size"] == 2 * 3 * 4
    check_ds_config(cfg, layout=layout, world_size=4, train_args=ARGS)


def test_autotp_with_zero3_leaves_train_batch_size_to_deepspeed():
    layout = Layout(tp=2, pp=1, dp=1, zero_stage=3)
    cfg = build_ds_config(layout, ARGS, world_size=2, pin_memory=False)
    assert "train_batch_size" not in cfg and cfg["train_micro_batch_size_per_gpu"] == 2
    check_ds_config(cfg, layout=layout, world_size=2, train_args=ARGS)
    for value in (8, "auto"):
        msg = refusal(dict(cfg, train_batch_size=value), layout=layout, world_size=2)
        assert "'train_batch_size' with AutoTP (tp=2) and ZeRO-3" in msg and "remove 'train_batch_size'" in msg
    fixed, notes = nearest_valid_config(dict(cfg, train_batch_size=8), layout=layout, world_size=2)
    assert "train_batch_size" not in fixed
    check_ds_config(fixed, layout=layout, world_size=2)


def test_build_pipeline_config_is_explicit_and_checked():
    layout = Layout(tp=2, pp=2, dp=2, zero_stage=1, micro_batches=4)
    cfg = build_pipeline_ds_config(layout, ARGS, world_size=8, total_steps=100, pin_memory=False)
    assert '"auto"' not in json.dumps(cfg)
    assert (cfg["gradient_accumulation_steps"], cfg["train_batch_size"]) == (4, 2 * 4 * 2)
    assert cfg["scheduler"]["type"] == "WarmupCosineLR" and cfg["scheduler"]["params"]["total_num_steps"] == 100
    check_ds_config(cfg, layout=layout, world_size=8)
    bare = build_pipeline_ds_config(layout, ARGS, 8, total_steps=100, with_optimizer=False, pin_memory=False)
    assert "optimizer" not in bare and "scheduler" not in bare
    with pytest.raises(ValueError, match="build_pipeline_ds_config"):
        build_ds_config(layout, ARGS, 8)


@pytest.mark.parametrize("layout, world", [
    (Layout(zero_stage=0), 1), (Layout(zero_stage=2, offload_optimizer=True), 1),
    (Layout(zero_stage=3, offload_optimizer=True, offload_param=True), 1)])
def test_built_configs_pass_deepspeeds_own_parser(layout, world):
    cfg = build_ds_config(layout, ARGS, world, pin_memory=False)
    cfg["optimizer"] = {"type": "AdamW", "params": {"lr": 1e-3}}  # what the Trainer fills for "auto"
    parsed = DeepSpeedConfig(cfg)
    assert parsed.train_batch_size == 6 and parsed.zero_optimization_stage == layout.zero_stage


# ---------------------------------------------------------------- loading


def test_load_names_a_missing_file(tmp_path):
    with pytest.raises(DeepSpeedConfigError, match="(?s)nope.json: 1 problem.*no such file"):
        load_and_check(tmp_path / "nope.json", Layout(), ARGS, 1)


def test_load_names_the_line_of_bad_json_and_duplicates(tmp_path):
    bad = tmp_path / "ds.json"
    bad.write_text('{"train_batch_size": 8,\n "zero_optimization": {"stage": 1},}\n')
    with pytest.raises(DeepSpeedConfigError, match=r"(?s)ds.json.*not valid JSON at line 2"):
        load_and_check(bad, Layout(), ARGS, 1)
    bad.write_text('{"train_batch_size": 8, "train_batch_size": 4}')
    with pytest.raises(DeepSpeedConfigError, match="'train_batch_size' appears twice"):
        read_ds_json(bad)


def test_load_refuses_stage_3_against_layout_zero_1(tmp_path):
    path = tmp_path / "ds.json"
    path.write_text(json.dumps({"train_batch_size": "auto", "zero_optimization": {"stage": 3}}))
    with pytest.raises(DeepSpeedConfigError, match="stage' = 3 contradicts the layout's zero=1"):
        load_and_check(path, Layout(zero_stage=1, dp=2), ARGS, 2)


def test_load_adds_autotp_from_the_layout(tmp_path):
    path = tmp_path / "ds.json"
    path.write_text(json.dumps({"train_micro_batch_size_per_gpu": "auto", "zero_optimization": {"stage": 1}}))
    merged = load_and_check(path, Layout(tp=2, dp=1, zero_stage=1), ARGS, 2)
    assert merged["tensor_parallel"] == {"autotp_size": 2}
    assert layout_from_ds_config(merged, 2) == Layout(tp=2, pp=1, dp=1, zero_stage=1)


# ---------------------------------------------------------------- --fix-config


def test_nearest_valid_config_of_the_tutorial_passes_the_check():
    fixed, notes = nearest_valid_config(tutorial(), world_size=4)
    check_ds_config(fixed, world_size=4)
    check_ds_config(fixed, layout=Layout.parse("tp=2,pp=2,zero=1,offload=optimizer", world_size=4), world_size=4)
    assert {"model_parallel", "deepspeed_transformer_kernel"}.isdisjoint(fixed)
    assert fixed["zero_optimization"]["stage"] == 1 and "offload_param" not in fixed["zero_optimization"]
    assert fixed["zero_optimization"]["overlap_comm"] is True  # what DeepSpeed honours is kept
    assert any("--layout tp=2,pp=2,zero=1,offload=optimizer" in n for n in notes)


def test_nearest_valid_config_on_the_trainer_path_keeps_autos_and_adds_batch_sizes():
    cfg = tutorial()
    del cfg["model_parallel"]
    cfg["zero_optimisation"] = cfg.pop("zero_optimization")
    fixed, notes = nearest_valid_config(cfg, train_args=ARGS, world_size=2)
    check_ds_config(fixed, world_size=2, train_args=ARGS)
    assert fixed["optimizer"]["params"]["lr"] == "auto" and fixed["train_batch_size"] == "auto"
    assert "zero_optimization" in fixed and "scheduler" not in fixed
    assert any("renamed 'zero_optimisation' to 'zero_optimization'" in n for n in notes)


# ---------------------------------------------------------------- the check-config command


def test_check_config_cli_exit_codes(tmp_path, capsys):
    assert check_config_main([str(TUTORIAL)]) == 1
    assert "model_parallel" in capsys.readouterr().out
    assert check_config_main([str(TUTORIAL), "--fix-config", "--world-size", "4"]) == 1
    out = capsys.readouterr()
    fixed_path = tmp_path / "fixed.json"
    fixed_path.write_text(out.out)
    assert "changes:" in out.err and json.loads(out.out)["zero_optimization"]["stage"] == 1
    assert check_config_main([str(fixed_path), "--world-size", "4", "--layout", "tp=2,pp=2,zero=1,offload=optimizer"]) == 0
    assert capsys.readouterr().out.strip().endswith("OK")
    assert check_config_main([str(tmp_path / "missing.json")]) == 1
    assert "no such file" in capsys.readouterr().err
    assert check_config_main([str(fixed_path), "--layout", "tp=2,pp=2,zero=3"]) == 1


def test_example_configs_in_configs_ds_pass_the_check():
    examples = sorted((Path(__file__).parents[1] / "configs" / "ds").glob("*.json"))
    assert examples, "configs/ds/ has no example"
    for path in examples:
        check_ds_config(read_ds_json(path), source=str(path))


@pytest.mark.parametrize("layout, world", [(Layout(zero_stage=2, offload_optimizer=True), 1),
                                           (Layout(tp=2, dp=1, zero_stage=1), 2)])
def test_built_config_agrees_with_the_hf_trainers_fill_logic(layout, world, tmp_path):
    from types import SimpleNamespace

    from transformers import TrainingArguments
    from transformers.integrations.deepspeed import HfTrainerDeepSpeedConfig, unset_hf_deepspeed_config

    cfg = build_ds_config(layout, ARGS, world, pin_memory=False)
    hf_args = TrainingArguments(output_dir=str(tmp_path), use_cpu=True, report_to="none",
                                per_device_train_batch_size=2, gradient_accumulation_steps=3, max_grad_norm=0.5)
    hf_args_world = SimpleNamespace(**{k: getattr(hf_args, k) for k in (
        "per_device_train_batch_size", "gradient_accumulation_steps", "max_grad_norm", "learning_rate",
        "adam_beta1", "adam_beta2", "adam_epsilon", "weight_decay", "save_on_each_node", "fp16",
        "fp16_full_eval", "bf16", "bf16_full_eval")}, world_size=world, get_warmup_steps=hf_args.get_warmup_steps)
    try:
        hf = HfTrainerDeepSpeedConfig(cfg)
        hf.trainer_config_process(hf_args_world)
        hf.trainer_config_finalize(hf_args_world, SimpleNamespace(config=SimpleNamespace(hidden_size=8)), 10)
    finally:
        unset_hf_deepspeed_config()
    assert '"auto"' not in json.dumps(hf.config)  # every "auto" we wrote is one the Trainer fills
    assert hf.config["train_batch_size"] == cfg["train_batch_size"]


def test_pipeline_config_uses_torch_adamw_on_cpu():
    layout = Layout(tp=1, pp=2, dp=1, zero_stage=1)
    cfg = build_pipeline_ds_config(layout, ARGS, 2, total_steps=10, pin_memory=False, torch_adam=None)
    import torch

    assert cfg["optimizer"]["params"].get("torch_adam", False) == (not torch.cuda.is_available())
    offload = build_pipeline_ds_config(Layout(tp=1, pp=2, dp=1, zero_stage=1, offload_optimizer=True), ARGS, 2,
                                       total_steps=10, pin_memory=False)
    assert "torch_adam" not in offload["optimizer"]["params"]  # offload wants DeepSpeedCPUAdam
