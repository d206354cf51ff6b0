"""ZeRO-1/2/3 (+offload) and AutoTP=2 on 2 real processes reproduce one process's training."""
from __future__ import annotations

import json

import pytest
import torch
from transformers import AutoModelForCausalLM

from distributed import REPO, run_python

STEPS = 5
GLOBAL_BATCH = 8
COMMON = ["--data_path", "sample", "--model_max_length", "256", "--max_steps", str(STEPS),
          "--logging_steps", "1", "--learning_rate", "1e-3", "--max_grad_norm", "1.0",
          "--lr_scheduler_type", "linear", "--save_strategy", "no", "--seed", "7"]
WORKER = str(REPO / "tests" / "dist" / "zero_run.py")


def losses(out_dir) -> list[float]:
    rows = [json.loads(line) for line in (out_dir / "metrics.jsonl").read_text().splitlines()]
    return [r["loss"] for r in rows if "loss" in r]


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    out = tmp_path_factory.mktemp("ref")
    run_python([WORKER, *COMMON, "--use_deepspeed", "false", "--output_dir", str(out),
                "--per_device_train_batch_size", str(GLOBAL_BATCH)], nproc=1, log=out / "log.txt")
    return losses(out)


# name: (flags, per-device batch, fraction of one q_proj weight a rank holds after training)
LAYOUTS = {
    "zero1": (["--layout", "zero=1"], GLOBAL_BATCH // 2, 1.0),
    "zero2": (["--layout", "zero=2"], GLOBAL_BATCH // 2, 1.0),
    # Stage 3 partitions parameters: each of the 2 ranks keeps half of every weight.
    "zero3_offload": (["--layout", "zero=3,offload=all"], GLOBAL_BATCH // 2, 0.5),
    # tp=2 on 2 ranks leaves dp=1: both ranks see the same full batch, each holds half of q_proj.
    "autotp2": (["--layout", "tp=2,zero=1"], GLOBAL_BATCH, 0.5),
}


@pytest.mark.slow
@pytest.mark.parametrize("name", list(LAYOUTS))
def test_layout_matches_single_process(name, reference, tmp_path):
    flags, per_device, held = LAYOUTS[name]
    out = tmp_path / name
    run_python([WORKER, *COMMON, *flags, "--output_dir", str(out),
                "--per_device_train_batch_size", str(per_device)], nproc=2, log=tmp_path / "log.txt")
    got = losses(out)
    assert len(got) == STEPS and len(reference) == STEPS
    diffs = [abs(a - b) for a, b in zip(got, reference)]
    print(f"{name}: losses {got} reference {reference} max diff {max(diffs):.2e}")
    assert max(diffs) < 1e-5, (got, reference)
    assert got[-1] < got[0], "the loss should fall over the run"

    # The saved HF model (gathered from shards) gives the trained model's logits.
    probe = torch.load(out / "probe_logits.pt")
    assert probe["q_proj_local_numel"] == held * probe["q_proj_full_numel"], "the layout did not shard as asked"
    model = AutoModelForCausalLM.from_pretrained(out).eval()
    with torch.no_grad():
        logits = model(input_ids=probe["input_ids"], attention_mask=probe["attention_mask"]).logits
    mask = probe["attention_mask"].bool()
    assert torch.allclose(logits[mask], probe["logits"][mask], atol=1e-5, rtol=0), \
        (logits[mask] - probe["logits"][mask]).abs().max()
