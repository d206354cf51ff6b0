"""The config keys the installed DeepSpeed really reads, taken from DeepSpeed itself.

Top level: we hand DeepSpeedConfig's own parser a dict that records every key it looks up.
A key it never looks up is one DeepSpeed silently ignores. Inside zero_optimization: the
fields (and aliases) of DeepSpeed's pydantic ZeRO config models. So the lists follow the
installed version instead of a hand-kept copy that goes stale.
"""
from __future__ import annotations

import functools


# Top-level keys read outside DeepSpeedConfig: deepspeed.initialize() builds its
# data x sequence parallel mesh from these two (deepspeed/__init__.py).
_READ_BY_INITIALIZE = frozenset({"sequence_parallel_size", "data_parallel_size"})


class _KeyRecorder(dict):
    """A dict that remembers every key it was asked about."""

    def __init__(self, *args):
        super().__init__(*args)
        self.asked: set[str] = set()

    def get(self, key, default=None):
        self.asked.add(key)
        return super().get(key, default)

    def __getitem__(self, key):
        self.asked.add(key)
        return super().__getitem__(key)

    def __contains__(self, key):
        self.asked.add(key)
        return super().__contains__(key)

    def keys(self):  # `KEY in param_dict.keys()` is a common idiom in DeepSpeed's parsers
        return _RecordingKeys(self)

    def __copy__(self):  # DeepSpeedConfig copies the dict before parsing; keep recording
        return self


class _RecordingKeys:
    def __init__(self, owner: _KeyRecorder):
        self.owner = owner

    def __contains__(self, key):
        return key in self.owner

    def __iter__(self):
        return iter(dict.keys(self.owner))


@functools.lru_cache(maxsize=None)
def top_level_keys() -> frozenset[str]:
    """Every top-level key the installed DeepSpeed reads."""
    from deepspeed.runtime.config import DeepSpeedConfig

    # Non-empty on purpose: some parsers skip their section when the whole dict is falsy.
    recorder = _KeyRecorder({"steps_per_print": 10})
    parser = DeepSpeedConfig.__new__(DeepSpeedConfig)  # skip __init__: it needs batch sizes, dist
    parser._initialize_params(recorder)
    return frozenset(k for k in recorder.asked if isinstance(k, str)) | _READ_BY_INITIALIZE


@functools.lru_cache(maxsize=None)
def removed_top_level_keys() -> dict[str, str]:
    """Keys DeepSpeed removed and now refuses at start-up, with DeepSpeed's own explanation."""
    from deepspeed.runtime import config as ds_config

    return dict(getattr(ds_config, "_REMOVED_TOP_LEVEL_CONFIG_KEYS", {}))


def _model_keys(model) -> frozenset[str]:
    names = set()
    for name, info in model.model_fields.items():
        names.add(name)
        if info.alias:
            names.add(info.alias)
    return frozenset(names)


@functools.lru_cache(maxsize=None)
def zero_keys() -> frozenset[str]:
    from deepspeed.runtime.zero.config import DeepSpeedZeroConfig

    return _model_keys(DeepSpeedZeroConfig)


@functools.lru_cache(maxsize=None)
def offload_keys(section: str) -> frozenset[str]:
    """Keys of zero_optimization.offload_optimizer / .offload_param."""
    from deepspeed.runtime.zero.offload_config import (
        DeepSpeedZeroOffloadOptimizerConfig,
        DeepSpeedZeroOffloadParamConfig,
    )

    model = {"offload_optimizer": DeepSpeedZeroOffloadOptimizerConfig,
             "offload_param": DeepSpeedZeroOffloadParamConfig}[section]
    return _model_keys(model)


@functools.lru_cache(maxsize=None)
def hf_auto_filled_keys() -> frozenset[str]:
    """Dotted keys whose "auto" the HF Trainer replaces with a TrainingArguments value.

    Recorded by running transformers' own fill logic (HfTrainerDeepSpeedConfig) on stand-in
    arguments. "auto" anywhere else is dropped by DeepSpeed's pydantic configs (the default is
    used instead) or breaks a number.
    """
    from types import SimpleNamespace

    from transformers.integrations.deepspeed import HfTrainerDeepSpeedConfig

    class Recorder(HfTrainerDeepSpeedConfig):
        def fill_match(self, ds_key_long, hf_val, hf_key=None, must_match=True):
            self.asked.add(ds_key_long)

        def fill_only(self, ds_key_long, hf_val, hf_key=None):
            self.asked.add(ds_key_long)

        def is_auto(self, ds_key_long):
            self.asked.add(ds_key_long)
            return True

    # Built without __init__: that would register a global config that makes
    # from_pretrained believe ZeRO-3 is on.
    recorder = Recorder.__new__(Recorder)
    recorder.config, recorder._stage, recorder._offload = {"zero_optimization": {"stage": 3}}, 3, False
    recorder.mismatches, recorder._dtype, recorder.asked = [], None, set()
    args = SimpleNamespace(
        world_size=1, per_device_train_batch_size=1, gradient_accumulation_steps=1, max_grad_norm=1.0,
        learning_rate=1e-3, adam_beta1=0.9, adam_beta2=0.999, adam_epsilon=1e-8, weight_decay=0.0,
        save_on_each_node=False, fp16=False, fp16_full_eval=False, bf16=False, bf16_full_eval=False,
        get_warmup_steps=lambda steps: 0)
    model = SimpleNamespace(config=SimpleNamespace(hidden_size=8))
    recorder.trainer_config_process(args)
    recorder.trainer_config_finalize(args, model, 10)
    return frozenset(recorder.asked)
