"""Parallel layout (tp x pp x dp, ZeRO, offload) and the DeepSpeed config built from it."""
from decomptune.parallel.ds_config import (
    DeepSpeedConfigError,
    build_ds_config,
    build_pipeline_ds_config,
    check_ds_config,
    load_and_check,
)
from decomptune.parallel.ds_fix import nearest_valid_config
from decomptune.parallel.layout import Layout, LayoutError, validate

__all__ = [
    "DeepSpeedConfigError", "Layout", "LayoutError", "build_ds_config", "build_pipeline_ds_config",
    "check_ds_config", "load_and_check", "nearest_valid_config", "validate",
]
