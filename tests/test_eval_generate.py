"""Generation with a tiny random Llama: the pipeline (files, rows, report, resume, decompile
CLI, eval during training) is asserted, not the score, which is ~0 for a random model."""
from __future__ import annotations

import io
import json
import re
from pathlib import Path

import pytest
import torch
from transformers import LlamaConfig, LlamaForCausalLM, Trainer, TrainingArguments

from decomptune.eval import cli, decompile_cli, generate
from decomptune.eval.benchmark import load_benchmark
from decomptune.eval.generate import _cut_at_eos, generate_texts, load_model
from decomptune.eval.in_training import EvalCallback
from decomptune.prompts import TEMPLATES, render_prompt, save_template
from decomptune.tokenizer import load_tokenizer

MINI = Path(__file__).parent / "fixtures" / "eval" / "mini_benchmark.json"


@pytest.fixture(scope="module")
def model_dir(tmp_path_factory) -> Path:
    torch.manual_seed(0)
    tokenizer = load_tokenizer(None)
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=2048,
                         bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
                         pad_token_id=tokenizer.pad_token_id)
    path = tmp_path_factory.mktemp("tiny-model")
    LlamaForCausalLM(config).save_pretrained(path)
    tokenizer.save_pretrained(path)
    save_template(path, "decompiled")
    return path


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_eval_with_model_generates_scores_and_resumes(model_dir, tmp_path, monkeypatch):
    out = tmp_path / "out"
    args = ["--model", str(model_dir), "--benchmark", str(MINI), "--out", str(out), "--max-new-tokens", "12",
            "--batch-size", "2", "--jobs", "2"]
    assert cli.main(args + ["--limit", "3"]) == 0
    first = read_jsonl(out / "predictions.jsonl")
    assert sorted((r["task_id"], r["type"]) for r in first) == [(0, "O0"), (0, "O1"), (0, "O2")]
    assert all(isinstance(r["prediction"], str) for r in first)
    report = json.loads((out / "report.json").read_text())
    assert report["total"]["rows"] == 3
    assert report["settings"]["model"] == str(model_dir)
    assert report["settings"]["generation_max_new_tokens"] == 12
    assert report["settings"]["prompt_template"] == TEMPLATES["decompiled"]  # read from the model dir
    assert len(read_jsonl(out / "rows.jsonl")) == 3
    assert (out / "report.md").exists() and (out / "reexec.png").stat().st_size > 1000

    # Rerun over more rows: the 3 done rows are kept as they are, only 2 are generated.
    calls = []
    real = generate.generate_texts
    monkeypatch.setattr(generate, "generate_texts", lambda m, t, prompts, n: calls.append(len(prompts)) or real(m, t, prompts, n))
    assert cli.main(args + ["--limit", "5"]) == 0
    second = read_jsonl(out / "predictions.jsonl")
    assert second[:3] == first and len(second) == 5 and sum(calls) == 2
    assert json.loads((out / "report.json").read_text())["total"]["rows"] == 5

    # Nothing left to generate: the model is not even loaded.
    monkeypatch.setattr(generate, "load_model", lambda *a: pytest.fail("model loaded although all rows are done"))
    assert cli.main(args + ["--limit", "5"]) == 0


def test_a_torn_last_line_is_regenerated(model_dir, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "predictions.jsonl").write_text('{"task_id": 0, "type": "O0", "prediction": "int x;"}\n{"task_id": 0, "ty')
    args = ["--model", str(model_dir), "--benchmark", str(MINI), "--out", str(out), "--max-new-tokens", "4",
            "--limit", "2"]
    assert cli.main(args) == 0
    rows = read_jsonl(out / "predictions.jsonl")
    assert [(r["task_id"], r["type"]) for r in rows] == [(0, "O0"), (0, "O1")]
    assert rows[0]["prediction"] == "int x;"


def test_left_padded_batch_matches_one_by_one(model_dir):
    model, tokenizer = load_model(model_dir)
    tasks = load_benchmark(MINI)
    prompts = [render_prompt("decompiled", tasks[i].input_code) for i in (0, 4, 8)]
    assert len({len(tokenizer(p)["input_ids"]) for p in prompts}) == 3  # really different lengths
    assert tokenizer.padding_side in ("left", "right")  # we pad by hand, whatever its setting
    batched = generate_texts(model, tokenizer, prompts, max_new_tokens=10)
    alone = [generate_texts(model, tokenizer, [p], max_new_tokens=10)[0] for p in prompts]
    assert batched == alone


def test_output_is_cut_at_eos():
    assert _cut_at_eos([5, 6, 2, 7, 2], {2}) == [5, 6]
    assert _cut_at_eos([5, 6], {2}) == [5, 6]


def test_decompile_cli_prints_recovered_source(model_dir, tmp_path, capsys, monkeypatch):
    code = load_benchmark(MINI)[4].input_code
    model, tokenizer = load_model(model_dir)
    expected = generate_texts(model, tokenizer, [render_prompt("decompiled", code)], max_new_tokens=8)[0]
    (tmp_path / "f.c").write_text(code)
    assert decompile_cli.main(["--model", str(model_dir), str(tmp_path / "f.c"), "--max-new-tokens", "8"]) == 0
    assert capsys.readouterr().out == expected + "\n"
    monkeypatch.setattr("sys.stdin", io.StringIO(code))
    assert decompile_cli.main(["--model", str(model_dir), "-", "--max-new-tokens", "8"]) == 0
    assert capsys.readouterr().out == expected + "\n"
    monkeypatch.setattr("sys.stdin", io.StringIO("  \n"))
    assert decompile_cli.main(["--model", str(model_dir), "--max-new-tokens", "8"]) == 2
    assert "stdin: empty input" in capsys.readouterr().err


def test_eval_callback_logs_reexec_rate_into_trainer_history(model_dir, tmp_path):
    model, tokenizer = load_model(model_dir)
    ids = tokenizer("int func0(int x) { return x; }")["input_ids"]
    data = [{"input_ids": ids, "labels": ids, "attention_mask": [1] * len(ids)}] * 8
    callback = EvalCallback(str(MINI), every=2, limit=2, prompt="decompiled", max_new_tokens=8, batch_size=2)
    args = TrainingArguments(output_dir=str(tmp_path / "run"), max_steps=4, per_device_train_batch_size=2,
                             logging_steps=1, report_to=[], use_cpu=True, save_strategy="no")
    trainer = Trainer(model=model, args=args, train_dataset=data, processing_class=tokenizer, callbacks=[callback])
    trainer.train()
    logged = [entry for entry in trainer.state.log_history if "eval/reexec_rate" in entry]
    assert [entry["step"] for entry in logged] == [2, 4]
    assert all(0.0 <= e["eval/reexec_rate"] <= e["eval/compile_rate"] <= 100.0 for e in logged)
    assert model.training  # handed back in training mode


@pytest.mark.slow
def test_other_ranks_wait_for_a_slow_evaluation_without_timing_out(tmp_path):
    from distributed import run_python

    worker = Path(__file__).parent / "fixtures" / "eval" / "callback_worker.py"
    # The training group times out after 15 s; rank 0's evaluation takes over 25 s.
    out = run_python([str(worker), str(MINI), str(tmp_path / "run"), "15", "25"], nproc=2, timeout=600)
    # Both ranks share one stdout, so their RESULT lines may land on one line: find each object.
    results = sorted((json.loads(found) for found in re.findall(r"RESULT (\{[^{}]*\})", out)),
                     key=lambda r: r["rank"])
    assert results == [{"rank": 0, "eval_steps": [2]}, {"rank": 1, "eval_steps": []}]
