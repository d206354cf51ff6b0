"""Loading pairs from files, directories, the shipped sample, and (routing only) the hub."""
import json

import datasets
import pytest

from decomptune.config import DataArgs
from decomptune.data import DataError, prepare_dataset
from decomptune.data import load as load_mod
from decomptune.data.load import load_split
from decomptune.tokenizer import load_tokenizer

datasets.disable_progress_bars()
ROWS = [{"instruction": f"int f{i}(void) {{ return {i}; }}", "output": f"int f{i}() {{ return {i}; }}"}
        for i in range(5)]


@pytest.fixture(autouse=True)
def private_datasets_cache(tmp_path, monkeypatch):
    monkeypatch.setattr(datasets.config, "HF_DATASETS_CACHE", str(tmp_path / "hf-cache"))


def write_jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


def test_loads_jsonl(tmp_path):
    ds, source = load_split(str(write_jsonl(tmp_path / "pairs.jsonl", ROWS)), None, "train")
    assert ds.to_list() == ROWS
    assert "pairs.jsonl" in source


def test_loads_json_array(tmp_path):
    path = tmp_path / "pairs.json"
    path.write_text(json.dumps(ROWS, indent=2), encoding="utf-8")
    assert load_split(str(path), None, "train")[0].to_list() == ROWS


def test_loads_json_lines_in_a_json_file(tmp_path):
    assert load_split(str(write_jsonl(tmp_path / "pairs.json", ROWS)), None, "train")[0].to_list() == ROWS


def test_loads_parquet(tmp_path):
    path = tmp_path / "pairs.parquet"
    datasets.Dataset.from_list(ROWS).to_parquet(str(path))
    assert load_split(str(path), None, "train")[0].to_list() == ROWS


def test_directory_of_mixed_files_with_a_validation_file(tmp_path):
    write_jsonl(tmp_path / "a.jsonl", ROWS[:2])
    datasets.Dataset.from_list(ROWS[2:4]).to_parquet(str(tmp_path / "b.parquet"))
    write_jsonl(tmp_path / "valid.jsonl", ROWS[4:])
    write_jsonl(tmp_path / "test-00000.jsonl", ROWS[:1])  # held out of both
    (tmp_path / "dev").mkdir()
    write_jsonl(tmp_path / "dev" / "part-0.jsonl", ROWS[4:])  # a validation folder counts too
    (tmp_path / ".cache").mkdir()
    write_jsonl(tmp_path / ".cache" / "junk.jsonl", ROWS[:1])  # hidden: ignored
    (tmp_path / "notes.txt").write_text("ignored")
    train, _ = load_split(str(tmp_path), None, "train")
    assert sorted(r["instruction"] for r in train) == sorted(r["instruction"] for r in ROWS[:4])
    valid, _ = load_split(str(tmp_path), None, "validation")
    assert valid.to_list() == ROWS[4:] * 2


def test_no_validation_gives_none(tmp_path):
    path = str(write_jsonl(tmp_path / "pairs.jsonl", ROWS))
    assert load_split(path, None, "validation") is None
    assert prepare_dataset(DataArgs(data_path=path), load_tokenizer(None), split="validation") == (None, None)


def test_explicit_validation_path(tmp_path):
    train = str(write_jsonl(tmp_path / "train.jsonl", ROWS[:3]))
    other = str(write_jsonl(tmp_path / "other.jsonl", ROWS[3:]))
    assert load_split(train, other, "validation")[0].to_list() == ROWS[3:]


def test_shipped_sample_has_both_splits_with_the_documented_columns():
    train, _ = load_split("sample", None, "train")
    valid, _ = load_split("sample", None, "validation")
    assert {"instruction", "output", "opt", "function", "source_file"} <= set(train.column_names)
    assert len(train) > 200 and 0.05 < len(valid) / (len(train) + len(valid)) < 0.2
    assert not set(train["output"]) & set(valid["output"])  # split by function: no source in both


def test_custom_column_names(tmp_path):
    rows = [{"pseudo": r["instruction"], "src": r["output"]} for r in ROWS]
    path = str(write_jsonl(tmp_path / "pairs.jsonl", rows))
    ds, report = prepare_dataset(DataArgs(data_path=path, input_column="pseudo", output_column="src"),
                                 load_tokenizer(None))
    assert report.kept == len(rows) and ds.column_names == ["input_ids", "labels"]


def test_malformed_jsonl_line_names_file_and_line(tmp_path):
    path = tmp_path / "pairs.jsonl"
    lines = [json.dumps(r) for r in ROWS[:2]] + ['{"instruction": "x", "output": }'] + [json.dumps(ROWS[3])]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    with pytest.raises(DataError, match=r"pairs\.jsonl, line 3: invalid JSON"):
        load_split(str(path), None, "train")


def test_malformed_json_array_names_the_line(tmp_path):
    path = tmp_path / "pairs.json"
    path.write_text('[\n  {"instruction": "a", "output": "b"},\n  {"instruction": "c" "output": "d"}\n]\n')
    with pytest.raises(DataError, match=r"pairs\.json, line 3"):
        load_split(str(path), None, "train")


def test_jsonl_line_that_is_not_an_object(tmp_path):
    path = tmp_path / "pairs.jsonl"
    path.write_text(json.dumps(ROWS[0]) + "\n[1, 2]\n")
    with pytest.raises(DataError, match=r"line 2: expected a JSON object"):
        load_split(str(path), None, "train")


def test_missing_local_file_is_not_mistaken_for_a_hub_name(tmp_path):
    with pytest.raises(DataError, match="does not exist"):
        load_split(str(tmp_path / "nope.jsonl"), None, "train")


def test_directory_without_training_files(tmp_path):
    write_jsonl(tmp_path / "valid.jsonl", ROWS)
    with pytest.raises(DataError, match="no train data files"):
        load_split(str(tmp_path), None, "train")


def test_hub_names_go_to_load_dataset_with_the_split(monkeypatch):
    # No hub here: check the routing and the "name:split" syntax only.
    calls = []
    monkeypatch.setattr(load_mod.datasets, "load_dataset",
                        lambda name, split: calls.append((name, split)) or datasets.Dataset.from_list(ROWS))
    load_split("someone/decompile-pairs", None, "train")
    load_split("someone/decompile-pairs", "someone/decompile-pairs", "validation")
    load_split("someone/decompile-pairs:train[:10]", None, "train")
    assert calls == [("someone/decompile-pairs", "train"), ("someone/decompile-pairs", "validation"),
                     ("someone/decompile-pairs", "train[:10]")]


@pytest.mark.parametrize("bad_line, expected", [
    (b"\xff\xfe\n", r"pairs\.jsonl, line 2: not UTF-8"),
    (b'{"instruction": "\xff", "output": "y"}\n', r"row 1: column 'instruction' is not valid UTF-8"),
])
def test_non_utf8_text_is_named(tmp_path, bad_line, expected):
    # Arrow rejects a broken line but stores bad bytes inside a string: the row check catches those.
    path = tmp_path / "pairs.jsonl"
    path.write_bytes(json.dumps(ROWS[0]).encode() + b"\n" + bad_line)
    with pytest.raises(DataError, match=expected):
        prepare_dataset(DataArgs(data_path=str(path)), load_tokenizer(None))


def test_empty_file_is_named(tmp_path):
    (tmp_path / "pairs.jsonl").write_text("")
    with pytest.raises(DataError, match=r"pairs\.jsonl is empty"):
        load_split(str(tmp_path / "pairs.jsonl"), None, "train")
