"""`make demo`'s command, shortened: hybrid pp=2 x tp=2 training on 4 processes, save, reload, decompile."""
import subprocess
import sys

import pytest

from distributed import REPO, child_env


@pytest.mark.slow
def test_demo_trains_saves_reloads_and_decompiles(tmp_path):
    out = tmp_path / "demo"
    proc = subprocess.run([sys.executable, "-m", "decomptune.cli", "demo", "--output_dir", str(out),
                           "--max_steps", "6", "--logging_steps", "2"],
                          cwd=REPO, env=child_env(), capture_output=True, text=True, timeout=900)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    assert "on 4 processes" in proc.stdout and "pp=2" in proc.stdout
    assert "(falling)" in proc.stdout, proc.stdout
    assert "--- model output:" in proc.stdout and '"demo_wall_s"' in proc.stdout
    for name in ("model.safetensors", "config.json", "tokenizer.json", "decomptune_prompt.txt", "loss.png"):
        assert (out / name).exists(), name
