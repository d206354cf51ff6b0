"""Config: YAML + command-line overrides, and the seed tutorial's flags unchanged."""
import json
import subprocess
import sys

import pytest

from decomptune.config import ConfigError, RunConfig, apply_mapping, load_yaml, parse_args, save_config
from distributed import REPO, child_env

TUTORIAL_FLAGS = [
    "--model_name_or_path", "tiny", "--data_path", "sample", "--output_dir", "OUT",
    "--num_train_epochs", "3", "--model_max_length", "1024", "--per_device_train_batch_size", "2",
    "--gradient_accumulation_steps", "8", "--save_strategy", "steps", "--save_steps", "500",
    "--save_total_limit", "2", "--learning_rate", "2e-5", "--max_grad_norm", "1.0",
    "--weight_decay", "0.0", "--warmup_ratio", "0.03", "--logging_steps", "10",
    "--lr_scheduler_type", "cosine", "--gradient_checkpointing", "True", "--report_to", "wandb",
    "--bf16", "True", "--deepspeed", "ds.json", "--use_flash_attention", "True",
]


def test_tutorial_flags_map_onto_the_config_tree():
    cfg, _, notes = parse_args(TUTORIAL_FLAGS)
    assert cfg.model.model_name_or_path == "tiny" and cfg.model.gradient_checkpointing is True
    assert cfg.model.use_flash_attention is True
    assert cfg.data.model_max_length == 1024 and cfg.data.data_path == "sample"
    t = cfg.train
    assert (t.num_train_epochs, t.per_device_train_batch_size, t.gradient_accumulation_steps) == (3.0, 2, 8)
    assert (t.save_strategy, t.save_steps, t.save_total_limit) == ("steps", 500, 2)
    assert (t.learning_rate, t.max_grad_norm, t.warmup_ratio, t.weight_decay) == (2e-5, 1.0, 0.03, 0.0)
    assert (t.report_to, t.bf16, t.deepspeed, t.lr_scheduler_type) == ("wandb", True, "ds.json", "cosine")
    assert notes == []


def test_removed_transformers_flags_are_accepted_with_a_note():
    _, _, notes = parse_args(["--evaluation_strategy", "no"])
    assert len(notes) == 1 and "--evaluation_strategy" in notes[0]


def test_deepspeed_launcher_local_rank_flag_is_accepted():
    cfg, ns, _ = parse_args(["--local_rank=3", "--max_steps", "5"])
    assert cfg.train.max_steps == 5


def test_yaml_then_flags_override(tmp_path):
    path = tmp_path / "run.yaml"
    path.write_text("model: {model_name_or_path: tiny}\ntrain: {learning_rate: 1.0e-3, max_steps: 7}\n"
                    "layout: {zero_stage: 2}\n")
    cfg, _, _ = parse_args(["--config", str(path), "--max_steps", "9"])
    assert cfg.train.learning_rate == 1e-3 and cfg.train.max_steps == 9 and cfg.layout.zero_stage == 2


@pytest.mark.parametrize("text", ["true", "True", "1", "yes"])
def test_bool_flags_accept_the_usual_spellings(text):
    cfg, _, _ = parse_args(["--bf16", text])
    assert cfg.train.bf16 is True


def test_bare_bool_flag_means_true_and_false_means_false():
    assert parse_args(["--gradient_checkpointing"])[0].model.gradient_checkpointing is True
    assert parse_args(["--bf16", "false"])[0].train.bf16 is False


def test_unknown_yaml_key_names_the_key_and_the_known_ones(tmp_path):
    path = tmp_path / "bad.yaml"
    path.write_text("train: {learning_rat: 1.0}\n")
    with pytest.raises(ConfigError, match=r"train\.learning_rat.*learning_rate"):
        parse_args(["--config", str(path)])


def test_unknown_section_and_bad_value_are_refused(tmp_path):
    with pytest.raises(ConfigError, match="unknown section 'optim'"):
        apply_mapping(RunConfig(), {"optim": {"lr": 1}}, "x.yaml")
    with pytest.raises(ConfigError, match=r"train\.max_steps.*'many'"):
        parse_args(["--max_steps", "many"])


def test_missing_yaml_file_says_where_presets_are():
    with pytest.raises(ConfigError, match="not found.*configs/"):
        load_yaml("/nonexistent/run.yaml")


def test_fp16_is_refused_with_the_alternative():
    with pytest.raises(ConfigError, match="--bf16"):
        parse_args(["--fp16", "True"])


def test_saved_config_loads_back_identically(tmp_path):
    cfg, _, _ = parse_args(["--max_steps", "3", "--tp", "2", "--prompt_template", "llm4decompile"])
    save_config(cfg, tmp_path / "c.yaml")
    again = RunConfig()
    apply_mapping(again, load_yaml(tmp_path / "c.yaml"), "c.yaml")
    assert again == cfg


def run_cli(args, tmp_path):
    return subprocess.run([sys.executable, "-m", "decomptune.cli", "train", *args], cwd=tmp_path,
                          env=child_env(), capture_output=True, text=True, timeout=300)


def test_tutorial_train_sh_flags_with_the_tutorial_ds_json_are_refused_before_training(tmp_path):
    flags = [a.replace("ds.json", str(REPO / "tests/fixtures/tutorial_ds.json")).replace("OUT", str(tmp_path / "o"))
             for a in TUTORIAL_FLAGS]
    proc = run_cli([*flags, "--nproc_per_node", "4"], tmp_path)
    assert proc.returncode != 0
    for reason in ("model_parallel", "deepspeed_transformer_kernel", "offload_param"):
        assert reason in proc.stderr, proc.stderr
    assert "Traceback" not in proc.stderr
    assert not (tmp_path / "o").exists(), "nothing may be left behind by a refused run"


def test_tutorial_flags_with_a_valid_layout_pass_the_check(tmp_path):
    flags = [a.replace("OUT", str(tmp_path / "o")) for a in TUTORIAL_FLAGS]
    i = flags.index("--deepspeed")
    del flags[i:i + 2]
    proc = run_cli([*flags, "--layout", "zero=2", "--nproc_per_node", "2", "--check_only"], tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "OK: layout" in proc.stdout


def test_a_user_ds_json_without_layout_sets_the_layout(tmp_path):
    ds = tmp_path / "ds.json"
    ds.write_text(json.dumps({"train_micro_batch_size_per_gpu": "auto", "gradient_accumulation_steps": "auto",
                              "train_batch_size": "auto", "zero_optimization": {"stage": 2}}))
    proc = run_cli(["--deepspeed", str(ds), "--nproc_per_node", "2", "--check_only",
                    "--output_dir", str(tmp_path / "o")], tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert "zero=2" in proc.stdout and "path=zero" in proc.stdout
