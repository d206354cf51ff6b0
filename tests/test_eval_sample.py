"""`decomptune eval` on the bundled sample's pairs: the corpus test harness (contexts, tests,
siblings), the oracle passing every tested row, raw pseudo-C scoring lower, compile-only rows
for functions without a test, and a tiny model end to end."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from transformers import LlamaConfig, LlamaForCausalLM

from decomptune.errors import UserError
from decomptune.eval import cli
from decomptune.eval.benchmark import LEVELS
from decomptune.eval.harness import build_harness, load_harness, split_tests
from decomptune.eval.pairs_benchmark import SAMPLE_VALID, load_any_benchmark, load_pairs_benchmark
from decomptune.eval.score import score_all
from decomptune.prompts import save_template
from decomptune.tokenizer import load_tokenizer

CORPUS = Path(__file__).resolve().parent.parent / "corpus"


def read_jsonl(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def write_jsonl(path: Path, rows: list[dict]) -> Path:
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


@pytest.fixture(scope="module")
def harness():
    return load_harness()


def test_bundled_harness_matches_the_corpus_and_covers_the_validation_split(harness):
    built = {f.source_file: f.to_json() for f in build_harness(CORPUS)}
    assert {name: f.to_json() for name, f in harness.items()} == built, \
        "stale harness: run python -m decomptune.eval.harness corpus"
    tested = {(name, fn) for name, f in harness.items() for fn in f.tests}
    assert sum(name.startswith("handwritten/") for name, _ in tested) >= 20
    assert sum(name.startswith("generated/") for name, _ in tested) >= 30
    valid = {(r["source_file"], r["function"]) for r in read_jsonl(SAMPLE_VALID)}
    assert valid <= tested  # every validation function is scored by re-executability


def test_split_tests_rejects_bad_test_files():
    with pytest.raises(UserError, match="no '/\\* test: FUNCTION \\*/' markers"):
        split_tests("int main(void) { return 0; }", "t.c")
    with pytest.raises(UserError, match="two tests for f"):
        split_tests("/* test: f */\nint main(void){}\n/* test: f */\nint main(void){}\n", "t.c")
    with pytest.raises(UserError, match="the test for g has no main"):
        split_tests("/* test: g */\nint x;\n", "t.c")
    tests = split_tests("#include <assert.h>\n/* test: a */\nint main(void){return 0;}\n"
                        "/* test: b */\nint main(void){return 1;}\n", "t.c")
    assert tests["b"].startswith("#include <assert.h>\n/* test: b */") and "return 0" not in tests["b"]


def test_context_keeps_declarations_and_drops_bodies_and_own_prototype(harness):
    records = harness["handwritten/records.c"]
    context = records.context("point_dist2")
    assert "struct point { int x, y; };" in context and "#include" in context
    assert "long rect_area(const struct rect *r);" in context  # siblings as prototypes
    assert "point_dist2" not in context and "dx * dx" not in context
    # Siblings the function or its test call are linked in after the prediction.
    variance = harness["generated/floats_double.c"].test_program("double_floats_variance")
    assert "double double_floats_mean(const double *x, size_t n)\n{" in variance
    kth = harness["generated/sorting_int.c"].test_program("int_sorting_kth_smallest")
    assert "void int_sorting_insertion_sort(int *a, size_t n)\n{" in kth and "quick_sort" not in kth
    assert harness["handwritten/hashing.c"].test_program("hash_djb2") == ""  # no test written


def _predictions(tasks, pick) -> list[dict]:
    return [{"task_id": t.task_id, "type": t.level, "prediction": pick(t)} for t in tasks]


def test_oracle_passes_every_tested_validation_function(harness):
    tasks, counts = load_pairs_benchmark(SAMPLE_VALID, harness)
    assert all(counts[f"{lv}_with_test"] == counts[f"{lv}_rows"] > 0 for lv in LEVELS)
    # The oracle's program is the same at every level (only the input differs): score each
    # function once, and check the harness gives every level the same program.
    by_function = {}
    for t in tasks:
        by_function.setdefault(t.task_id, []).append(t)
    assert all(len({(t.c_func, t.c_test, t.context) for t in group}) == 1 for group in by_function.values())
    once = [group[0] for group in by_function.values()]
    rows = score_all(once, {t.key: t.c_func for t in once}, jobs=4, progress=False)
    failed = [(r.name, r.reason, r.compile_error[:300]) for r in rows if not r.passed]
    assert len(rows) == len(once) >= 40 and not failed


def test_cli_scores_sample_oracle_and_raw_pseudo_c_per_level(tmp_path):
    tasks, facts = load_any_benchmark("sample", limit=16)
    assert facts["benchmark_kind"] == "pairs" and facts["rows_with_tests"] == 16
    oracle = write_jsonl(tmp_path / "oracle.jsonl", _predictions(tasks, lambda t: t.c_func))
    raw = write_jsonl(tmp_path / "raw.jsonl", _predictions(tasks, lambda t: t.input_code))
    base = ["--benchmark", "sample", "--limit", "16", "--jobs", "4"]
    assert cli.main(base + ["--predictions", str(oracle), "--out", str(tmp_path / "oracle")]) == 0
    assert cli.main(base + ["--predictions", str(raw), "--out", str(tmp_path / "raw")]) == 0
    good = json.loads((tmp_path / "oracle" / "report.json").read_text())
    bad = json.loads((tmp_path / "raw" / "report.json").read_text())
    assert set(good["levels"]) == set(LEVELS)
    for level in LEVELS:
        assert good["levels"][level]["reexec_rate"] == good["levels"][level]["compile_rate"] == 100.0
        assert good["levels"][level]["with_tests"] == 4
    assert bad["average"]["reexec_rate"] < 100.0 and bad["average"]["compile_rate"] < 100.0
    assert good["settings"]["rows_with_tests_per_level"] == {lv: 4 for lv in LEVELS}
    rows = read_jsonl(tmp_path / "oracle" / "rows.jsonl")
    assert all(r["tested"] and r["passed"] and ":" in r["name"] for r in rows)
    assert "| O0 | 4 | 4 | 100.00 | 100.00 |" in (tmp_path / "oracle" / "report.md").read_text()


def _pair(source_file: str, function: str, output: str, opt: str = "O0", sha: str | None = None) -> dict:
    row = {"instruction": "undefined8 FUN_00101000(void) { return 0; }", "output": output, "opt": opt,
           "function": function, "source_file": source_file}
    if sha is not None:
        row["source_sha256"] = sha
    return row


def _source_of(harness, source_file: str, function: str) -> str:
    return next(r for r in read_jsonl(SAMPLE_VALID.parent / "train.jsonl")
                if (r["source_file"], r["function"]) == (source_file, function))["output"]


def test_rows_without_a_test_are_scored_on_compile_rate_only(harness, tmp_path, caplog):
    hashing = harness["handwritten/hashing.c"]
    djb2 = _source_of(harness, "handwritten/hashing.c", "hash_djb2")
    strings = harness["handwritten/strings.c"]
    length = _source_of(harness, "handwritten/strings.c", "str_length")
    pairs = write_jsonl(tmp_path / "pairs.jsonl", [
        _pair("handwritten/hashing.c", "hash_djb2", djb2, "O0", hashing.source_sha256),  # no test
        _pair("handwritten/hashing.c", "hash_djb2", djb2, "O1", hashing.source_sha256),
        _pair("handwritten/strings.c", "str_length", length, "O0", strings.source_sha256),  # tested
        _pair("handwritten/strings.c", "str_length", length, "O1", "0" * 64),  # stale: file changed
        _pair("elsewhere/x.c", "twice", "int twice(int x)\n{\n    return 2 * x;\n}", "O0"),  # unknown file
    ])
    predictions = write_jsonl(tmp_path / "pred.jsonl", [
        {"task_id": 0, "type": "O0", "prediction": djb2},
        {"task_id": 0, "type": "O1", "prediction": "uint32_t hash_djb2(const char *s) { return s + ; }"},
        {"task_id": 1, "type": "O0", "prediction": length.replace("(p - s)", "(p - s - 1)")},  # compiles, fails
        {"task_id": 1, "type": "O1", "prediction": length},
        {"task_id": 2, "type": "O0", "prediction": "int twice(int x) { return x << 1; }"},
    ])
    out = tmp_path / "out"
    assert cli.main(["--benchmark", str(pairs), "--predictions", str(predictions), "--out", str(out)]) == 0
    assert "changed since the harness was built" in caplog.text
    rows = {(r["task_id"], r["type"]): r for r in read_jsonl(out / "rows.jsonl")}
    assert rows[(0, "O0")]["compiled"] and not rows[(0, "O0")]["tested"]
    assert rows[(0, "O0")]["reason"] == "no test (compile rate only)"
    assert not rows[(0, "O1")]["compiled"] and not rows[(0, "O1")]["tested"]
    assert rows[(1, "O0")]["tested"] and rows[(1, "O0")]["compiled"] and not rows[(1, "O0")]["passed"]
    assert not rows[(1, "O1")]["tested"] and rows[(1, "O1")]["compiled"]  # stale: compile only
    assert rows[(2, "O0")]["compiled"] and not rows[(2, "O0")]["tested"]
    report = json.loads((out / "report.json").read_text())
    assert report["levels"]["O0"]["with_tests"] == 1 and report["levels"]["O0"]["reexec_rate"] == 0.0
    assert report["levels"]["O0"]["compile_rate"] == 100.0 and report["levels"]["O1"]["with_tests"] == 0
    assert report["settings"]["rows_with_tests"] == 1 and report["settings"]["harness_stale_files"] == 1
    assert "4 of 5 rows have no test" in (out / "report.md").read_text()


def test_bad_pairs_rows_name_the_line(tmp_path):
    bad = write_jsonl(tmp_path / "bad.jsonl", [_pair("a.c", "f", "int f(void){return 0;}"),
                                               {"instruction": "x", "output": "y", "opt": "O0"}])
    with pytest.raises(UserError, match=r"bad.jsonl:2: missing or non-string function, source_file"):
        load_any_benchmark(str(bad))
    twice = write_jsonl(tmp_path / "twice.jsonl", [_pair("a.c", "f", "int f(void){return 0;}")] * 2)
    with pytest.raises(UserError, match=r"twice.jsonl:2: a second O0 row for f in a.c"):
        load_any_benchmark(str(twice))
    assert cli.main(["--benchmark", str(bad), "--predictions", str(bad), "--out", str(tmp_path / "o")]) == 2


def test_tiny_model_end_to_end_on_sample_rows(tmp_path):
    torch.manual_seed(0)
    tokenizer = load_tokenizer(None)
    config = LlamaConfig(vocab_size=len(tokenizer), hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                         num_attention_heads=2, num_key_value_heads=1, max_position_embeddings=4096,
                         bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id,
                         pad_token_id=tokenizer.pad_token_id)
    model_dir = tmp_path / "tiny"
    LlamaForCausalLM(config).save_pretrained(model_dir)
    tokenizer.save_pretrained(model_dir)
    save_template(model_dir, "decompiled")
    out = tmp_path / "out"
    assert cli.main(["--model", str(model_dir), "--benchmark", "sample", "--limit", "4", "--out", str(out),
                     "--max-new-tokens", "8", "--batch-size", "4", "--jobs", "2"]) == 0
    predictions = read_jsonl(out / "predictions.jsonl")
    assert sorted(r["type"] for r in predictions) == sorted(LEVELS) and {r["task_id"] for r in predictions} == {0}
    report = json.loads((out / "report.json").read_text())
    assert report["total"]["rows"] == 4 and report["total"]["with_tests"] == 4
    assert report["settings"]["benchmark_kind"] == "pairs" and report["settings"]["model"] == str(model_dir)
    assert len(read_jsonl(out / "rows.jsonl")) == 4 and (out / "report.md").exists()
