"""Every kind of bad input to `decomptune train` gets one clear error, and leaves nothing behind.

Table-driven: each case builds its input in a temporary directory, runs the CLI (in this
process, as `decomptune.cli.main`, for speed; one case also as a real subprocess), and
checks: non-zero exit, one `error:` line naming the file/row/key and a fix, no Python
traceback, and no output directory created.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from decomptune import cli
from decomptune.models.tiny import tiny_llama_config
from decomptune.train import checkpointing
from distributed import REPO, child_env

SAMPLE = REPO / "src" / "decomptune" / "assets" / "sample" / "train.jsonl"
GOOD = [json.loads(line) for line in SAMPLE.read_text().splitlines()[:12]]


def jsonl(path: Path, rows: list) -> str:
    return write(path, "".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))


def write(path: Path, content: str | bytes) -> str:
    path.write_bytes(content if isinstance(content, bytes) else content.encode())
    return str(path)


def model_dir(path: Path, **shape) -> str:
    tiny_llama_config(vocab_size=4096, **shape).save_pretrained(path)
    return str(path)


def checkpoint(root: Path, step: int, **shape) -> Path:
    """A complete checkpoint as the trainer commits it (config + completion marker)."""
    staged = checkpointing.staging_dir(root, checkpointing.ZERO.name(step))
    tiny_llama_config(vocab_size=4096, **shape).save_pretrained(staged)
    return checkpointing.commit(staged, checkpointing.ZERO, root, step)


# name: (build(tmp) -> extra argv, words the error must contain)
CASES = {
    "malformed_jsonl_line": (
        lambda t: ["--data_path", jsonl(t / "d.jsonl",
                                        [GOOD[0], '{"instruction": "int f(void)", "output": ', GOOD[1]])],
        ["d.jsonl", "line 2", "invalid JSON", "fix or delete that line"]),
    "malformed_json_array": (
        lambda t: ["--data_path", write(t / "d.json", json.dumps(GOOD[:3])[:-5])],
        ["d.json", "line 1", "invalid JSON"]),
    "wrong_column_names": (
        lambda t: ["--data_path", jsonl(t / "d.jsonl",
                                        [{"input": r["instruction"], "target": r["output"]} for r in GOOD])],
        ["d.jsonl", "'instruction'", "not found", "--input_column"]),
    "empty_values": (
        lambda t: ["--data_path", jsonl(t / "d.jsonl", [GOOD[0], {**GOOD[1], "output": "  "}, *GOOD[2:]])],
        ["d.jsonl", "row 1", "'output' is empty", "--skip_bad_rows"]),
    "non_utf8_bytes": (
        lambda t: ["--data_path", write(t / "d.jsonl", json.dumps(GOOD[0]).encode()
                                        + b'\n{"instruction": "int f\xff(void)", "output": "x"}\n')],
        ["d.jsonl", "row 1", "UTF-8"]),
    # One 10 MB row alone: dropped as far longer than the context, which leaves nothing to train on.
    # (Among good rows it is dropped and counted in the data report, and the run goes on.)
    "ten_megabyte_row": (
        lambda t: ["--data_path", jsonl(t / "d.jsonl", [{"instruction": "int f(void){}" * 800_000, "output": "x"}])],
        ["no train rows left", "d.jsonl", "longer than 256 tokens", "overlong_policy"]),
    "empty_dataset": (
        lambda t: ["--data_path", write(t / "d.jsonl", "")],
        ["d.jsonl", "is empty", "put pairs in it"]),
    "missing_data_file": (
        lambda t: ["--data_path", str(t / "nowhere.jsonl")],
        ["nowhere.jsonl", "does not exist"]),
    "missing_model_path": (
        lambda t: ["--model_name_or_path", str(t / "no-model")],
        ["no-model", "no such directory", "'tiny'"]),
    "heads_not_divisible_by_tp": (
        lambda t: ["--model_name_or_path", model_dir(t / "m", num_attention_heads=6, num_key_value_heads=3,
                                                     hidden_size=96), "--tokenizer_name_or_path", "tiny",
                   "--layout", "tp=2", "--nproc_per_node", "2"],
        ["tp=2", "num_key_value_heads"]),
    "contradictory_deepspeed_flags": (
        lambda t: ["--use_deepspeed", "false", "--layout", "tp=2", "--nproc_per_node", "2"],
        ["--use_deepspeed false", "tp"]),
    "contradictory_resume_flags": (
        lambda t: ["--resume", "auto", "--resume_from_checkpoint", str(t)],
        ["--resume auto", "--resume_from_checkpoint", "contradict"]),
    "unreadable_number": (
        lambda t: ["--learning_rate", "fast"],
        ["learning_rate", "'fast'", "float"]),
    "output_dir_under_a_file": (
        lambda t: ["--output_dir", str(Path(write(t / "f.txt", "x")) / "out")],
        ["f.txt", "is a file", "--output_dir"]),
    "output_dir_not_writable": (
        lambda t: ["--output_dir", unwritable_dir(t)],
        ["not writable", "--output_dir"]),
    "checkpoint_from_another_model": (
        lambda t: ["--resume", str(checkpoint(t / "old", 3, hidden_size=256, intermediate_size=704))],
        ["checkpoint-3", "different model", "hidden_size 256 there, 128 here", "--model_name_or_path"]),
    "checkpoint_from_another_layout": (
        lambda t: ["--resume", str(pipeline_checkpoint(t / "old", 3, tp=2, pp=2, dp=1)),
                   "--layout", "pp=2", "--nproc_per_node", "2", "--use_deepspeed", "true"],
        ["step-3", "layout {'tp': 2, 'pp': 2, 'dp': 1}", "{'tp': 1, 'pp': 2, 'dp': 1}", "decomptune export"]),
    "half_written_checkpoint": (
        lambda t: ["--resume", str(half_written(t / "old", 4))],
        ["checkpoint-4", "incomplete", "--resume auto"]),
}


def pipeline_checkpoint(out: Path, step: int, **layout) -> Path:
    root = checkpointing.PIPELINE.root(out)
    staged = checkpointing.staging_dir(root, checkpointing.PIPELINE.name(step))
    tiny_llama_config(vocab_size=4096).save_pretrained(staged)
    (staged / "decomptune_pipeline.json").write_text(json.dumps({"step": step, **layout}))
    return checkpointing.commit(staged, checkpointing.PIPELINE, root, step)


def unwritable_dir(tmp: Path) -> str:
    if os.geteuid() == 0:  # root writes through permission bits; /proc takes no new directories
        return "/proc/decomptune-bad-input/out"
    locked = tmp / "locked"
    locked.mkdir(mode=0o500)
    return str(locked / "out")


def half_written(root: Path, step: int) -> Path:
    staged = checkpointing.staging_dir(root, checkpointing.ZERO.name(step))
    tiny_llama_config(vocab_size=4096).save_pretrained(staged)
    return staged


BASE = ["train", "--data_path", str(SAMPLE), "--max_steps", "1", "--model_max_length", "256",
        "--use_deepspeed", "false", "--save_strategy", "no"]


@pytest.mark.timeout(300)
@pytest.mark.parametrize("name", list(CASES))
def test_bad_input_gets_one_clear_error(name, tmp_path, capsys):
    build, words = CASES[name]
    out = tmp_path / "run-out"
    extra = build(tmp_path)
    # Flags given later win: a case's own --use_deepspeed/--output_dir replaces the base's.
    argv = [*BASE, "--output_dir", str(out), *extra]
    rc = cli.main(argv)
    err = capsys.readouterr().err
    assert rc != 0, f"{name}: accepted bad input\n{err[-2000:]}"
    assert sum(line.startswith("error:") for line in err.splitlines()) == 1, err[-3000:]
    message = err[err.index("error:"):]  # the message, and the report lines some errors carry
    for word in words:
        assert word in message, f"{name}: {word!r} not in {message!r}"
    assert "Traceback" not in err
    assert not out.exists(), f"{name}: left {out} behind"
    if "--output_dir" in extra:
        assert not Path(extra[extra.index("--output_dir") + 1]).exists()


def test_bad_input_from_a_real_process_exits_2_without_traceback(tmp_path):
    data = jsonl(tmp_path / "d.jsonl", [GOOD[0], {"instruction": GOOD[1]["instruction"]}])
    argv = [sys.executable, "-m", "decomptune.cli", *BASE, "--output_dir", str(tmp_path / "out"), "--data_path", data]
    done = subprocess.run(argv, env=child_env(), capture_output=True, text=True, timeout=240)
    assert done.returncode == 2
    assert "d.jsonl" in done.stderr and "row 1: column 'output' is missing (null)" in done.stderr
    assert "Traceback" not in done.stderr
    assert not (tmp_path / "out").exists()


def test_debug_shows_the_traceback(tmp_path, capsys):
    data = jsonl(tmp_path / "d.jsonl", [GOOD[0], {"instruction": GOOD[1]["instruction"]}])
    assert cli.main([*BASE, "--output_dir", str(tmp_path / "out"), "--data_path", data, "--debug"]) == 2
    err = capsys.readouterr().err
    assert "Traceback" in err and "DataError" in err and "error: " in err
