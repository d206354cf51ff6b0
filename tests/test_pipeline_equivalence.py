"""The pipeline path (DeepSpeed PipelineModule + TP inside stages) equals one process.

Each case is one real torchrun launch (gloo, CPU) of tests/dist/pipeline_worker.py,
which trains a tiny GQA Llama with padding in every batch and clipping that clips,
exports, resumes, and compares everything against a single-process run.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

WORKER = Path(__file__).parent / "dist" / "pipeline_worker.py"
STEPS, RESUME_AT = 5, 3


def launch(nproc: int, args: list[str], workdir: Path, timeout: int = 400) -> dict:
    env = dict(os.environ)
    env.pop("LOCAL_SIZE", None)  # makes DeepSpeed's CPU comm ~20x slower
    env.setdefault("TORCH_EXTENSIONS_DIR", str(Path(__file__).parents[1] / ".cache" / "torch_extensions"))
    env["OMP_NUM_THREADS"] = "1"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", f"--nproc_per_node={nproc}",
           str(WORKER), "--workdir", str(workdir), "--steps", str(STEPS), "--resume_at", str(RESUME_AT), *args]
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=timeout)
    result = workdir / "result.json"
    if done.returncode != 0 or not result.exists():
        ranks = "\n".join(line for line in done.stderr.splitlines() if line.startswith("[rank"))
        pytest.fail(f"worker failed (rc={done.returncode}):\n{done.stdout[-2000:]}\n{ranks[-8000:]}")
    return json.loads(result.read_text())


def check_equivalence(r: dict) -> None:
    # SGD: per-step loss and final weights equal to one process.
    assert len(r["losses"]) == STEPS
    assert r["max_loss_diff"] < 1e-5, (r["losses"], r["ref_losses"])
    assert r["max_weight_diff"] < 1e-5
    assert r["weight_change"] > 1e-3, "training did not move the weights: the comparison would prove nothing"
    # Clipping was active every step, and the clipped norm is the global one (all stages, TP ranks).
    assert all(n > 2 * r["clip"] for n in r["ref_grad_norms"])
    for mine, ref in zip(r["grad_norms"], r["ref_grad_norms"]):
        assert abs(mine - ref) < 1e-4 * ref
    # AdamW: losses within 1e-4.
    assert r["adamw_max_loss_diff"] < 1e-4, (r["adamw_losses"], r["adamw_ref_losses"])
    # Export: one HF model, same names, same logits as the sharded model and the reference.
    assert r["same_weight_names"]
    assert r["export_vs_pipeline_logits"] < 1e-5
    assert r["export_vs_reference_logits"] < 1e-5
    # Resume (model, AdamW state, scheduler, data position) continues as if never stopped.
    assert len(r["resumed_losses"]) == STEPS - RESUME_AT
    assert r["resumed_losses"] == pytest.approx(r["uninterrupted_tail"], abs=1e-6)


LAYOUTS = {
    "pp2": (2, ["--pp", "2"]),
    "tp2_pipeline_engine": (2, ["--tp", "2"]),
    "pp2_tp2": (4, ["--pp", "2", "--tp", "2"]),
    "pp2_dp2": (4, ["--pp", "2"]),
}


@pytest.mark.timeout(420)
@pytest.mark.parametrize("name", list(LAYOUTS))
def test_pipeline_matches_single_process(name, tmp_path):
    nproc, args = LAYOUTS[name]
    r = launch(nproc, args, tmp_path)
    check_equivalence(r)
    pp = r["layout"]["pp"]
    assert len(r["parts"]) == pp + 1 and r["parts"][0] == 0


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_pipeline_tp_dp_8_ranks_matches_single_process(tmp_path):
    r = launch(8, ["--pp", "2", "--tp", "2"], tmp_path, timeout=580)
    assert r["layout"] == {"tp": 2, "pp": 2, "dp": 2, "world": 8}
    check_equivalence(r)


@pytest.mark.timeout(420)
def test_pipeline_tied_embeddings_uniform_partition_activation_checkpointing(tmp_path):
    r = launch(2, ["--pp", "2", "--tie", "--partition", "uniform", "--activation_checkpointing"], tmp_path)
    check_equivalence(r)
    # "uniform": the 4 decoder blocks (layers 1..4) split 2/2, embedding first, norm+head last.
    assert r["parts"] == [0, 3, 7]
    assert r["activation_checkpoint_interval"] == 1
