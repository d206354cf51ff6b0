"""Rows with a missing, non-string or empty input/output: named in an error, or skipped and counted."""
import json

import datasets
import pytest

from decomptune.config import DataArgs
from decomptune.data import DataError, prepare_dataset
from decomptune.tokenizer import load_tokenizer

datasets.disable_progress_bars()
GOOD = {"instruction": "int f(void) { return 1; }", "output": "int f() { return 1; }"}


@pytest.fixture(autouse=True)
def private_datasets_cache(tmp_path, monkeypatch):
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", str(tmp_path / "hf-cache"))


@pytest.fixture(scope="module")
def tokenizer():
    return load_tokenizer(None)


def write_rows(tmp_path, rows):
    path = tmp_path / "pairs.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return str(path)


@pytest.mark.parametrize("bad_row, problem", [
    ({"output": "int f() {}"}, "column 'instruction' is missing"),  # key absent from the row
    ({"instruction": None, "output": "int f() {}"}, "column 'instruction' is missing"),
    ({"instruction": "x", "output": 42}, "column 'output' is not a string"),
    ({"instruction": "x", "output": ""}, "column 'output' is empty"),
    ({"instruction": "   \n", "output": "y"}, "column 'instruction' is empty"),
])
def test_bad_row_error_names_row_column_and_fix(tmp_path, tokenizer, bad_row, problem):
    path = write_rows(tmp_path, [GOOD, GOOD, bad_row, GOOD])
    with pytest.raises(DataError) as err:
        prepare_dataset(DataArgs(data_path=path), tokenizer)
    message = str(err.value)
    assert f"row 2: {problem}" in message
    assert "--skip_bad_rows" in message and "pairs.jsonl" in message


def test_skip_bad_rows_counts_and_lists_them(tmp_path, tokenizer):
    rows = [GOOD, {"output": "y"}, GOOD, {"instruction": "x", "output": 7}, {"instruction": "", "output": "y"}]
    rows += [GOOD] * 5
    path = write_rows(tmp_path, rows)
    ds, report = prepare_dataset(DataArgs(data_path=path, skip_bad_rows=True), tokenizer)
    assert len(ds) == report.kept == 7
    assert report.rows_loaded == 10 and report.dropped_bad_rows == 3
    assert report.bad_row_indices == [1, 3, 4]
    assert "bad rows: 3" in report.summary() and "[1, 3, 4]" in report.summary()


def test_error_lists_only_the_first_few_bad_rows(tmp_path, tokenizer):
    path = write_rows(tmp_path, [GOOD] + [{"instruction": "", "output": "y"}] * 8)
    with pytest.raises(DataError, match=r"8 of 9 rows are unusable.*row 5:.* \.\.\.") as err:
        prepare_dataset(DataArgs(data_path=path), tokenizer)
    assert "row 6:" not in str(err.value)


def test_missing_column_names_the_available_ones(tmp_path, tokenizer):
    path = write_rows(tmp_path, [{"asm": "x", "output": "y"}])
    with pytest.raises(DataError, match=r"\['instruction'\] not found; its columns are \['asm', 'output'\].*--input_column"):
        prepare_dataset(DataArgs(data_path=path, skip_bad_rows=True), tokenizer)


def test_all_rows_bad_is_an_error_even_when_skipping(tmp_path, tokenizer):
    path = write_rows(tmp_path, [{"instruction": "", "output": "y"}] * 3)
    with pytest.raises(DataError, match="no train rows left"):
        prepare_dataset(DataArgs(data_path=path, skip_bad_rows=True), tokenizer)
