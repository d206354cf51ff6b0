"""The Layout: parsing --layout, and every refusal of validate() with its message and fix."""
import pytest
from transformers import LlamaConfig

from decomptune.config import LayoutArgs
from decomptune.models.presets import FALCON3_7B
from decomptune.parallel.layout import Layout, LayoutError, parse_layout_overrides, valid_tp_sizes, validate

FALCON = LlamaConfig(**FALCON3_7B)


def refusal(layout, world_size, model_config=FALCON, **kw) -> str:
    with pytest.raises(LayoutError) as err:
        validate(layout, model_config, world_size, **kw)
    return str(err.value)


# ---------------------------------------------------------------- parsing and paths


def test_parse_layout_flag_derives_dp_and_path():
    layout = Layout.parse("tp=2,pp=2,zero=1,offload=optimizer", world_size=8)
    assert (layout.tp, layout.pp, layout.dp, layout.zero_stage) == (2, 2, 2, 1)
    assert layout.offload_optimizer and not layout.offload_param
    assert layout.path == "pipeline" and not layout.autotp
    assert Layout.parse(layout.flag(), world_size=8) == layout


def test_parse_keeps_yaml_base_and_overrides_only_given_keys():
    base = LayoutArgs(tp=1, pp=1, zero_stage=3, offload_param=True, offload_optimizer=True)
    layout = Layout.parse("tp=1", world_size=4, base=base)
    assert (layout.zero_stage, layout.offload_param, layout.dp) == (3, True, 4)


def test_zero_path_and_autotp_are_chosen_from_the_layout():
    assert Layout(tp=1, pp=1, dp=4).path == "zero"
    autotp = Layout(tp=2, pp=1, dp=2)
    assert autotp.path == "zero" and autotp.autotp
    assert Layout(tp=2, pp=2, dp=1).path == "pipeline"


def test_from_args_derives_dp_from_world_size():
    assert Layout.from_args(LayoutArgs(tp=2, pp=2), world_size=8).dp == 2


@pytest.mark.parametrize("text, words", [
    ("tp=2,foo=3", ["unknown layout key 'foo'", "tp"]),
    ("tp=two", ["tp=two is not a whole number"]),
    ("offload=gpu", ["offload=gpu is not known", "optimizer"]),
    ("tp", ["'tp' is not key=value"]),
    ("partition=random", ["partition=random is not known", "uniform"]),
])
def test_parse_refuses_bad_layout_strings(text, words):
    with pytest.raises(LayoutError) as err:
        parse_layout_overrides(text)
    for word in words:
        assert word in str(err.value)


def test_explicit_dp_is_kept_for_validate_to_check():
    layout = Layout.parse("tp=2,dp=3", world_size=4)
    assert layout.dp == 3
    assert "use dp=2" in refusal(layout, 4)


# ---------------------------------------------------------------- Falcon3-7B shape


def test_falcon3_preset_has_the_model_card_shape():
    c = FALCON
    assert (c.num_hidden_layers, c.num_attention_heads, c.num_key_value_heads, c.head_dim) == (28, 12, 4, 256)
    assert (c.vocab_size, c.tie_word_embeddings, c.rope_parameters["rope_theta"]) == (131072, False, 1000042.0)
    h, i, kv = c.hidden_size, c.intermediate_size, c.num_key_value_heads * c.head_dim
    per_layer = 2 * h * h + 2 * h * kv + 3 * h * i + 2 * h
    total = 2 * c.vocab_size * h + c.num_hidden_layers * per_layer + h
    assert abs(total / 1e9 - 7.456) < 0.01  # the model card's ~7.46 B


def test_falcon3_allows_tp_1_2_4_only():
    assert valid_tp_sizes(FALCON) == [1, 2, 4]
    assert validate(Layout(tp=4, pp=1, dp=1), FALCON, 4) == []
    assert validate(Layout(tp=2, pp=2, dp=2), FALCON, 8, gradient_accumulation_steps=8) == []


# ---------------------------------------------------------------- refusals, one test each


def test_refuses_world_size_not_divisible_by_tp_pp():
    msg = refusal(Layout(tp=2, pp=2, dp=1), 6)
    assert "world size 6 is not divisible by tp*pp = 2*2 = 4" in msg
    assert "launch a multiple of 4 processes" in msg


def test_too_few_processes_for_tp_pp_is_explained_by_world_size():
    msg = refusal(Layout.from_args(LayoutArgs(tp=2, pp=2, zero_stage=1), world_size=2), 2)
    assert "world size 2 is not divisible by tp*pp = 2*2 = 4" in msg and "dp=0" not in msg


def test_refuses_world_size_not_equal_tp_pp_dp():
    msg = refusal(Layout(tp=2, pp=1, dp=3), 4)
    assert "world size 4 != tp*pp*dp = 2*1*3 = 6" in msg and "use dp=2" in msg


def test_refuses_tp_not_dividing_kv_heads():
    msg = refusal(Layout(tp=3, pp=1, dp=1), 3)
    assert "tp=3 does not divide the model's num_key_value_heads = 4" in msg
    assert "use tp in [1, 2, 4]" in msg
    assert "num_attention_heads" not in msg  # 12 q heads split fine in 3


def test_refuses_tp_not_dividing_attention_heads():
    mha = {"num_attention_heads": 6, "num_key_value_heads": 6, "intermediate_size": 64, "num_hidden_layers": 4}
    msg = refusal(Layout(tp=4, pp=1, dp=1), 4, mha)
    assert "num_attention_heads = 6" in msg and "use tp in [1, 2]" in msg


def test_refuses_tp_not_dividing_mlp_width():
    odd_mlp = {"num_attention_heads": 8, "num_key_value_heads": 4, "intermediate_size": 90, "num_hidden_layers": 4}
    msg = refusal(Layout(tp=4, pp=1, dp=1), 4, odd_mlp)
    assert "intermediate_size = 90" in msg and "use tp in [1, 2]" in msg


def test_refuses_more_stages_than_layers():
    msg = refusal(Layout(tp=1, pp=29, dp=1, zero_stage=1), 29)
    assert "pp=29 is more pipeline stages than the model has decoder layers (28)" in msg
    assert "use pp <= 28" in msg


@pytest.mark.parametrize("stage", [2, 3])
def test_refuses_zero_2_3_with_pipeline(stage):
    msg = refusal(Layout(tp=1, pp=2, dp=2, zero_stage=stage), 4, gradient_accumulation_steps=8)
    assert f"ZeRO-{stage} with pipeline parallelism (pp=2)" in msg
    assert "use zero=1" in msg


def test_refuses_param_offload_without_zero3():
    msg = refusal(Layout(tp=1, pp=1, dp=2, zero_stage=2, offload_param=True), 2)
    assert "offload=param with ZeRO-2" in msg and "silently" in msg
    assert "use zero=3" in msg


def test_refuses_optimizer_offload_with_zero0():
    msg = refusal(Layout(tp=1, pp=1, dp=2, zero_stage=0, offload_optimizer=True), 2)
    assert "offload=optimizer with ZeRO-0" in msg and "use zero=1 or higher" in msg


def test_autotp_with_zero3_is_allowed():
    # DeepSpeed 0.19 runs AutoTP under ZeRO-3 (measured: equal to one process); the config
    # builder leaves train_batch_size out for it (tests/test_ds_config.py).
    assert validate(Layout(tp=2, pp=1, dp=2, zero_stage=3, offload_optimizer=True), FALCON, 4) == []


def test_refuses_unknown_zero_stage_and_bad_sizes():
    assert "zero=5 is not a ZeRO stage" in refusal(Layout(zero_stage=5), 1)
    assert "tp=0 must be a whole number >= 1" in refusal(Layout(tp=0), 1)


def test_lists_every_problem_at_once():
    msg = refusal(Layout(tp=3, pp=2, dp=1, zero_stage=2, offload_param=True), 6)
    assert "3 problems" in msg
    for part in ("num_key_value_heads", "ZeRO-2 with pipeline", "offload=param with ZeRO-2"):
        assert part in msg


# ---------------------------------------------------------------- warnings


def test_warns_about_pipeline_bubble_when_micro_batches_below_pp():
    warnings = validate(Layout(tp=1, pp=4, dp=1, micro_batches=2), FALCON, 4)
    assert len(warnings) == 1 and "pipeline bubble" in warnings[0] and "micro_batches >= 16" in warnings[0]
    assert validate(Layout(tp=1, pp=4, dp=1, micro_batches=16), FALCON, 4) == []
    # Without micro_batches the gradient accumulation steps are the micro-batches.
    assert validate(Layout(tp=1, pp=2, dp=1), FALCON, 2, gradient_accumulation_steps=1)


def test_warns_about_clipping_with_pipeline_zero0():
    warnings = validate(Layout(tp=1, pp=2, dp=1, zero_stage=0, micro_batches=8), FALCON, 2, max_grad_norm=1.0)
    assert any("prefer zero=1" in w for w in warnings)
