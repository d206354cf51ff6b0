"""Every shipped preset parses, and its layout is valid for the model and GPU count it names."""
from pathlib import Path

import pytest
from transformers import LlamaConfig

from decomptune.config import RunConfig, apply_mapping, load_yaml
from decomptune.models.presets import FALCON3_7B
from decomptune.parallel.ds_config import batch_world, build_ds_config, build_pipeline_ds_config, check_ds_config
from decomptune.parallel.layout import Layout, validate

CONFIGS = Path(__file__).resolve().parents[1] / "configs"
# preset file -> number of GPUs it is written for
FALCON_PRESETS = {
    "falcon3-7b-1gpu-zero3-offload.yaml": 1,
    "falcon3-7b-4gpu-zero2.yaml": 4,
    "falcon3-7b-4gpu-zero3.yaml": 4,
    "falcon3-7b-4gpu-pp2-tp2.yaml": 4,
    "falcon3-7b-4gpu-pp4.yaml": 4,
    "falcon3-7b-4gpu-tp4.yaml": 4,
}


def load(name: str) -> RunConfig:
    cfg = RunConfig()
    apply_mapping(cfg, load_yaml(CONFIGS / name), name)
    return cfg


@pytest.mark.parametrize("name,gpus", FALCON_PRESETS.items())
def test_falcon_preset_layout_is_valid_for_falcon3_7b(name, gpus):
    cfg = load(name)
    assert cfg.model.model_name_or_path == "tiiuae/Falcon3-7B-Base"
    assert cfg.train.bf16 and cfg.model.gradient_checkpointing
    layout = Layout.from_args(cfg.layout, gpus)
    validate(layout, LlamaConfig(**FALCON3_7B), gpus,
             gradient_accumulation_steps=cfg.train.gradient_accumulation_steps, max_grad_norm=cfg.train.max_grad_norm)
    if layout.pp > 1:
        ds = build_pipeline_ds_config(layout, cfg.train, gpus, total_steps=1000)
        assert ds["zero_optimization"]["stage"] <= 1
    else:
        ds = build_ds_config(layout, cfg.train, gpus)
    check_ds_config(ds, layout, gpus)
    # DeepSpeed counts every process in train_batch_size except pipeline stages (AutoTP ranks
    # included, though they share a batch), so the batch a step really sees is micro * gas * dp.
    assert ds["train_batch_size"] == (cfg.train.per_device_train_batch_size * ds["gradient_accumulation_steps"]
                                      * batch_world(layout, gpus))


def test_one_gpu_preset_offloads_params_and_optimizer_at_stage_3():
    layout = Layout.from_args(load("falcon3-7b-1gpu-zero3-offload.yaml").layout, 1)
    assert (layout.zero_stage, layout.offload_optimizer, layout.offload_param) == (3, True, True)


def test_the_tutorial_layout_preset_is_really_pipeline_times_tensor_parallel():
    layout = Layout.from_args(load("falcon3-7b-4gpu-pp2-tp2.yaml").layout, 4)
    assert (layout.pp, layout.tp, layout.dp, layout.path) == (2, 2, 1, "pipeline")


def test_demo_preset_uses_the_embedded_model_and_sample():
    cfg = load("tiny-cpu.yaml")
    assert cfg.model.model_name_or_path == "tiny" and cfg.data.data_path == "sample"
