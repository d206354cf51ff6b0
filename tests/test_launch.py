"""`decomptune launch`: the commands and sbatch script it writes, its refusals, and a real
2-"node" run: two torchrun agents (--nnodes 2, node ranks 0 and 1) over loopback."""
from __future__ import annotations

import json
import shlex
import socket
import subprocess
import sys

import pytest
import torch

from decomptune.cli import main as cli_main
from decomptune.launch import LaunchRequest, commands
from distributed import REPO, child_env


def printed(capsys) -> list[list[str]]:
    return [shlex.split(line) for line in capsys.readouterr().out.splitlines() if line and not line.startswith("#")]


def test_one_node_is_a_standalone_torchrun_with_the_layout(capsys):
    assert cli_main(["launch", "--nodes", "1", "--gpus-per-node", "4", "--layout", "zero=3", "--dry-run",
                     "--", "--config", "configs/falcon3-7b-4gpu-zero3.yaml", "--output_dir", "runs/my run"]) == 0
    (cmd,) = printed(capsys)
    assert cmd == ["torchrun", "--standalone", "--nnodes", "1", "--nproc_per_node", "4", "-m", "decomptune.train",
                   "--layout", "zero=3", "--config", "configs/falcon3-7b-4gpu-zero3.yaml", "--output_dir", "runs/my run"]


def test_two_nodes_get_one_torchrun_each_meeting_at_node_0(capsys):
    assert cli_main(["launch", "--nodes", "2", "--gpus-per-node", "8", "--layout", "tp=2,pp=2",
                     "--master-addr", "10.0.0.1", "--master-port", "29600", "--dry-run", "--", "--max_steps", "9"]) == 0
    cmds = printed(capsys)
    assert len(cmds) == 2
    for rank, cmd in enumerate(cmds):
        flags = dict(zip(cmd[1::2], cmd[2::2]))
        assert cmd[0] == "torchrun" and flags["--nnodes"] == "2" and flags["--node_rank"] == str(rank)
        assert flags["--master_addr"] == "10.0.0.1" and flags["--master_port"] == "29600"
        assert flags["--nproc_per_node"] == "8"
        assert cmd[cmd.index("-m"):] == ["-m", "decomptune.train", "--layout", "tp=2,pp=2", "--max_steps", "9"]


def test_hostfile_uses_deepspeeds_launcher(tmp_path):
    hosts = tmp_path / "hostfile"
    hosts.write_text("# two 4-GPU nodes\nworker-1 slots=4\nworker-2 slots=4\n")
    (cmd,) = commands(LaunchRequest(2, 4, ["--config", "c.yaml"], hostfile=str(hosts)))
    assert cmd[:9] == ["deepspeed", "--hostfile", str(hosts), "--num_nodes", "2", "--master_addr", "worker-1",
                       "--num_gpus", "4"]
    assert cmd[cmd.index("--module"):] == ["--module", "decomptune.train", "--config", "c.yaml"]


def test_slurm_writes_an_sbatch_script_with_one_torchrun_per_node(tmp_path, capsys):
    script = tmp_path / "job.sbatch"
    assert cli_main(["launch", "--nodes", "2", "--gpus-per-node", "4", "--layout", "pp=2,tp=2", "--slurm",
                     "--dry-run", "--sbatch-file", str(script), "--time", "12:00:00", "--partition", "gpu",
                     "--", "--output_dir", "runs/a b"]) == 0
    text = script.read_text()
    assert text.startswith("#!/bin/bash\n")
    for line in ("#SBATCH --nodes=2", "#SBATCH --ntasks-per-node=1", "#SBATCH --gpus-per-node=4",
                 "#SBATCH --time=12:00:00", "#SBATCH --partition=gpu"):
        assert line in text.splitlines()
    (srun,) = [line for line in text.splitlines() if line.startswith("srun ")]
    words = shlex.split(srun)
    assert words[words.index("torchrun"):words.index("-m")] == [
        "torchrun", "--nnodes", "2", "--nproc_per_node", "4", "--rdzv_id", "$SLURM_JOB_ID", "--rdzv_backend",
        "c10d", "--rdzv_endpoint", "$MASTER_ADDR:$MASTER_PORT"]
    assert words[-4:] == ["--layout", "pp=2,tp=2", "--output_dir", "runs/a b"]
    assert 'scontrol show hostnames "$SLURM_JOB_NODELIST"' in text
    assert f"sbatch {script}" in capsys.readouterr().out
    bash = subprocess.run(["bash", "-n", str(script)], capture_output=True, text=True)
    assert bash.returncode == 0, bash.stderr


@pytest.mark.parametrize("args, message", [
    (["--nodes", "2", "--gpus-per-node", "3", "--layout", "tp=4"], "tp x pp = 4 does not divide"),
    (["--nodes", "2", "--gpus-per-node", "4"], "give --master-addr"),
    (["--nodes", "2", "--gpus-per-node", "4", "--master-addr", "h", "--node-rank", "2"], "outside 0..1"),
    (["--nodes", "1", "--gpus-per-node", "2", "--", "--nproc_per_node", "2"], "the launcher sets it"),
])
def test_impossible_requests_are_refused_with_the_fix(args, message, capsys):
    assert cli_main(["launch", "--dry-run", *args]) == 2
    assert message in capsys.readouterr().err


def test_bad_hostfile_line_is_named(tmp_path, capsys):
    hosts = tmp_path / "hosts"
    hosts.write_text("worker-1 slots=4\nworker-2 4\n")
    assert cli_main(["launch", "--nodes", "2", "--gpus-per-node", "4", "--hostfile", str(hosts), "--dry-run"]) == 2
    assert f"{hosts}:2: 'worker-2 4' is not `hostname slots=N`" in capsys.readouterr().err


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.mark.slow
def test_two_nodes_on_loopback_train_zero1_and_save_a_loadable_model(tmp_path):
    from transformers import AutoModelForCausalLM

    out = tmp_path / "run"
    port = free_port()
    train = ["--config", str(REPO / "configs" / "tiny-cpu.yaml"), "--layout", "tp=1,pp=1,zero=1", "--max_steps", "8",
             "--logging_steps", "2", "--per_device_train_batch_size", "4", "--model_max_length", "256",
             "--save_strategy", "no", "--report_to", "tensorboard,wandb", "--output_dir", str(out)]
    env = child_env(WANDB_MODE="offline", WANDB_SILENT="true", WANDB_DIR=str(tmp_path))
    nodes = [subprocess.Popen([sys.executable, "-m", "decomptune.cli", "launch", "--nodes", "2", "--gpus-per-node",
                               "1", "--master-addr", "127.0.0.1", "--master-port", str(port), "--node-rank",
                               str(rank), "--", *train], cwd=REPO, env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.STDOUT, text=True) for rank in (0, 1)]
    logs = []
    try:
        for node in nodes:
            logs.append(node.communicate(timeout=600)[0])
    finally:
        for node in nodes:
            node.kill()
    for rank, (node, log) in enumerate(zip(nodes, logs)):
        assert node.returncode == 0, f"node {rank} failed:\n{log[-5000:]}"
    assert "--nnodes 2 --node_rank 1" in logs[1]

    facts = json.loads((out / "decomptune_run.json").read_text())
    assert (facts["processes"], facts["nodes"]) == (2, 2)
    rows = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    train_rows = [r for r in rows if "loss" in r]
    assert [r["step"] for r in train_rows] == [2, 4, 6, 8]
    assert train_rows[-1]["loss"] < train_rows[0]["loss"] - 0.5, [r["loss"] for r in train_rows]
    assert all(r["tokens_per_s"] > 0 and 0 < r["useful_token_ratio"] <= 1 for r in train_rows)
    assert (out / "metrics.csv").read_text().splitlines()[0].startswith("step,elapsed_s,loss")
    assert list((out / "tensorboard").glob("events.out.tfevents.*"))
    assert list((out / "wandb").glob("offline-run-*/run-*.wandb"))
    assert (out / "loss.png").read_bytes()[:4] == b"\x89PNG"
    assert "tp=1, pp=1, dp=2, ZeRO-1" in (out / "README.md").read_text()

    model = AutoModelForCausalLM.from_pretrained(out).eval()
    ids = torch.tensor([[1, 2, 3, 4]])
    with torch.no_grad():
        logits = model(input_ids=ids).logits
    assert logits.shape[:2] == (1, 4) and torch.isfinite(logits).all()
