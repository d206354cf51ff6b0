"""The tutorial's launcher: `deepspeed --num_gpus=N --module decomptune.train <flags>` trains for real."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

from distributed import child_env


@pytest.mark.slow
def test_deepspeed_launcher_runs_the_training_module(tmp_path):
    out = tmp_path / "run"
    launcher = Path(sys.executable).with_name("deepspeed")
    proc = subprocess.run(
        [str(launcher), "--num_gpus", "2", "--master_port", "29517", "--module", "decomptune.train",
         "--model_name_or_path", "tiny", "--data_path", "sample", "--output_dir", str(out),
         "--max_steps", "3", "--logging_steps", "1", "--model_max_length", "256",
         "--per_device_train_batch_size", "2", "--gradient_checkpointing", "True", "--save_strategy", "no",
         "--layout", "zero=2"],
        cwd=tmp_path, env=child_env(), capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert [r["step"] for r in rows if "loss" in r] == [1, 2, 3]
    saved = json.loads((out / "decomptune_run.json").read_text())
    assert saved["processes"] == 2
    assert (out / "model.safetensors").exists()
