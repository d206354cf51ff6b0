"""Metrics files and reporters (JSONL, CSV, TensorBoard, W&B offline), token meters, progress lines,
and the pipeline path's logging in a real 2-process run."""
from __future__ import annotations

import csv
import json
import logging

import pytest
import torch

from decomptune.config import ConfigError, parse_args
from decomptune.train.progress import TrainProgress
from decomptune.train.reporting import (MetricSinks, StepMeter, batch_token_counts, parse_report_to,
                                        read_metrics, wandb_mode)
from distributed import run_python

TRAIN_ROWS = [{"loss": 3.0, "learning_rate": 1e-3, "grad_norm": 2.0, "tokens_per_s": 100.0},
              {"loss": 2.5, "learning_rate": 5e-4, "grad_norm": 1.5, "tokens_per_s": 120.0}]


def tensorboard_scalars(log_dir) -> dict[str, list[tuple[int, float]]]:
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    acc = EventAccumulator(str(log_dir))
    acc.Reload()
    return {tag: [(e.step, e.value) for e in acc.Scalars(tag)] for tag in acc.Tags()["scalars"]}


def test_sinks_write_jsonl_csv_tensorboard_and_offline_wandb(tmp_path, monkeypatch):
    monkeypatch.delenv("WANDB_MODE", raising=False)
    monkeypatch.delenv("WANDB_API_KEY", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.netrc: no credentials
    monkeypatch.setenv("WANDB_SILENT", "true")
    assert wandb_mode() == "offline"
    sinks = MetricSinks(tmp_path, "tensorboard,wandb", {"train": {"learning_rate": 1e-3}})
    sinks.log(1, TRAIN_ROWS[0])
    sinks.log(2, TRAIN_ROWS[1])
    sinks.log(2, {"eval/reexec_rate": 0.25})  # a new key: the CSV grows a column
    sinks.close()

    rows = read_metrics(tmp_path)
    assert [r["step"] for r in rows] == [1, 2, 2]
    assert rows[1]["loss"] == 2.5 and rows[2]["eval/reexec_rate"] == 0.25
    with open(tmp_path / "metrics.csv", newline="") as fh:
        table = list(csv.DictReader(fh))
    assert [float(r["loss"]) for r in table[:2]] == [3.0, 2.5]
    assert table[2]["eval/reexec_rate"] == "0.25" and table[0]["eval/reexec_rate"] == ""

    scalars = tensorboard_scalars(tmp_path / "tensorboard")
    assert scalars["train/loss"] == [(1, 3.0), (2, 2.5)]
    assert scalars["eval/reexec_rate"] == [(2, 0.25)]
    runs = list((tmp_path / "wandb").glob("offline-run-*/run-*.wandb"))
    assert len(runs) == 1
    data = runs[0].read_bytes()
    assert b"train/loss" in data and b"eval/reexec_rate" in data


def test_a_fresh_run_starts_a_new_log_and_a_resumed_one_keeps_rows_up_to_its_checkpoint(tmp_path):
    crashed = MetricSinks(tmp_path)
    for step in (1, 2, 3):
        crashed.log(step, {"loss": 4.0 - step})
    with open(tmp_path / "metrics.jsonl", "a") as fh:
        fh.write('{"step": 4, "lo')  # the crash cut the last line
    resumed = MetricSinks(tmp_path, first_step=2)  # the newest checkpoint was step 2
    resumed.log(3, {"loss": 0.5})
    assert [(r["step"], r["loss"]) for r in read_metrics(tmp_path)] == [(1, 3.0), (2, 2.0), (3, 0.5)]
    with open(tmp_path / "metrics.csv", newline="") as fh:
        assert [row["loss"] for row in csv.DictReader(fh)] == ["3.0", "2.0", "0.5"]
    MetricSinks(tmp_path).log(1, {"loss": 9.0})
    assert [r["loss"] for r in read_metrics(tmp_path)] == [9.0]


def test_report_to_accepts_hf_spellings_and_refuses_unknown_reporters():
    assert parse_report_to("none") == [] and parse_report_to(None) == []
    assert parse_report_to("wandb") == ["wandb"]
    assert parse_report_to("TensorBoard, wandb") == ["tensorboard", "wandb"]
    assert set(parse_report_to("all")) == {"tensorboard", "wandb"}
    with pytest.raises(ConfigError, match="unknown reporter 'mlflow'.*tensorboard, wandb"):
        parse_args(["--report_to", "mlflow"])
    cfg, _, _ = parse_args(["--report_to", "wandb"])  # the tutorial's flag
    assert cfg.train.report_to == "wandb"


def test_damaged_metrics_line_is_named(tmp_path):
    (tmp_path / "metrics.jsonl").write_text('{"step": 1, "loss": 2.0}\n{"step": 2, "lo\n')
    with pytest.raises(ValueError, match=r"metrics.jsonl:2: not a JSON line"):
        read_metrics(tmp_path)


def test_token_counts_separate_real_tokens_from_padding():
    from decomptune.data import DecompileCollator
    from decomptune.tokenizer import load_tokenizer

    collate = DecompileCollator(load_tokenizer(None))
    batch = collate([{"input_ids": [5] * 3, "labels": [5] * 3}, {"input_ids": [6] * 10, "labels": [6] * 10}])
    assert batch_token_counts(batch) == (13, 2 * 16)  # padded to 16 (multiple of 8)
    meter = StepMeter()
    meter.add(13, 32)
    out = meter.interval([26, 64])  # summed over two replicas
    assert out["useful_token_ratio"] == pytest.approx(26 / 64, abs=1e-4)
    assert out["tokens_seen"] == 26 and out["tokens_per_s"] > 0
    assert out["memory/cpu_rss_gb"] > 0
    assert meter.local_counts() == [0, 0]  # reset for the next interval


def test_progress_prints_plain_lines_off_terminal_and_nothing_when_disabled(caplog):
    caplog.set_level(logging.INFO, logger="decomptune.progress")
    progress = TrainProgress(total_steps=10, terminal=False)
    progress.update(4)
    progress.show({"loss": 1.23456, "tokens_per_s": 1500.0, "useful_token_ratio": 0.62, "learning_rate": 1e-4})
    quiet = TrainProgress(total_steps=10, enabled=False)
    quiet.update(4)
    quiet.show({"loss": 9.0})
    lines = [r.getMessage() for r in caplog.records]
    assert len(lines) == 1, lines
    line = lines[0]
    assert "step 4/10 (40%)" in line and "loss 1.2346" in line and "1500 tokens/s" in line
    assert "useful 62%" in line and "eta " in line and "\r" not in line


PIPE_ARGS = ["--layout", "pp=2", "--max_steps", "4", "--logging_steps", "2", "--model_max_length", "256",
             "--per_device_train_batch_size", "2", "--gradient_accumulation_steps", "2", "--save_strategy", "no"]


def expected_real_tokens(steps: int) -> int:
    """What the pipeline path must count: every row of every step once, however many stages see it."""
    from decomptune.data import prepare_dataset
    from decomptune.tokenizer import load_tokenizer
    from decomptune.train.pipe_data import StepPlan

    cfg, _, _ = parse_args(PIPE_ARGS)
    dataset, _ = prepare_dataset(cfg.data, load_tokenizer(None))
    plan = StepPlan(len(dataset), 2, 2, 1, cfg.train.seed, cfg.train.dataloader_shuffle)
    return sum(len(dataset[i]["input_ids"]) for step in range(steps) for i in plan.rows(step))


@pytest.mark.slow
def test_pipeline_path_logs_tokens_memory_and_tensorboard(tmp_path):
    out = tmp_path / "pipe"
    log = run_python(["-m", "decomptune.train", *PIPE_ARGS, "--report_to", "tensorboard", "--output_dir", str(out)],
                     nproc=2, log=tmp_path / "log.txt")
    train = [r for r in read_metrics(out) if "loss" in r]
    assert [r["step"] for r in train] == [2, 4]
    for row in train:
        assert row["tokens_per_s"] > 0 and 0 < row["useful_token_ratio"] <= 1
        assert row["memory/cpu_rss_gb"] > 0 and row["grad_norm"] > 0 and "learning_rate" in row
        assert torch.isfinite(torch.tensor(row["loss"]))
    # Counted once per row although both pipeline stages read every micro-batch.
    assert train[-1]["tokens_seen"] == expected_real_tokens(4)
    assert [s for s, _ in tensorboard_scalars(out / "tensorboard")["train/loss"]] == [2, 4]
    assert "training step 4/4 (100%)" in log  # the plain progress line (stdout is a pipe here)
    assert log.count("training step 2/4") == 1, "only rank 0 reports progress"
    assert (out / "loss.png").stat().st_size > 0 and (out / "README.md").exists()
    assert json.loads((out / "decomptune_run.json").read_text())["processes"] == 2
