"""`decomptune data`: the pipeline alone, printing its report."""
import datasets
import pytest

from decomptune.data.load import load_split
from decomptune.data.show import main

datasets.disable_progress_bars()


@pytest.fixture(autouse=True)
def private_datasets_cache(tmp_path, monkeypatch):
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", str(tmp_path / "hf-cache"))


def test_prints_both_splits_of_the_sample(capsys):
    assert main(["--model_max_length", "300", "--overlong_policy", "truncate_prompt_left", "--max_rows", "50"]) == 0
    out = capsys.readouterr().out
    rows = len(load_split("sample", None, "train")[0])
    assert "data [train]" in out and f"{rows} rows loaded, 50 kept" in out and f"left out by max_rows: {rows - 50}" in out
    assert "data [validation]" in out and "max 300" in out and "prompt cut from the left" in out


def test_bad_file_exits_2_with_the_line(tmp_path, capsys):
    path = tmp_path / "pairs.jsonl"
    path.write_text('{"instruction": "a", "output": "b"}\nnot json\n')
    assert main(["--data_path", str(path)]) == 2
    assert "line 2: invalid JSON" in capsys.readouterr().err
