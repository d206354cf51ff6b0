"""`decomptune eval --predictions`: bad files stop with the line named; good ones give a
report (md, json, png, rows.jsonl)."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from decomptune.errors import UserError
from decomptune.eval import cli
from decomptune.eval.benchmark import load_benchmark, load_predictions

MINI = Path(__file__).parent / "fixtures" / "eval" / "mini_benchmark.json"


def write_lines(path: Path, rows: list) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    return path


def oracle_rows(limit=None) -> list[dict]:
    return [{"task_id": t.task_id, "type": t.level, "prediction": t.c_func} for t in load_benchmark(MINI)[:limit]]


@pytest.mark.parametrize("bad, message", [
    ({"task_id": 999, "type": "O0", "prediction": "x"}, r":3: unknown task \(task_id 999, type O0\)"),
    ({"task_id": 0, "type": "O0", "prediction": "again"}, r":3: duplicate prediction for task_id 0, type O0"),
    ({"task_id": 0, "type": "O1"}, r":3: missing field 'prediction'"),
    ({"task_id": "0", "type": "O1", "prediction": "x"}, r":3: field 'task_id' must be int"),
    ({"task_id": 0, "type": "O7", "prediction": "x"}, r":3: type 'O7' is not one of O0, O1, O2, O3"),
    ('{"task_id": 0, "type": "O1", ', r":3: invalid JSON"),
    ("[1, 2]", r":3: expected a JSON object"),
])
def test_bad_prediction_rows_name_the_line(tmp_path, bad, message):
    path = write_lines(tmp_path / "pred.jsonl", oracle_rows(2) + [bad])
    with pytest.raises(UserError, match=rf"pred\.jsonl{message}"):
        load_predictions(path, load_benchmark(MINI), required=[])


def test_non_utf8_names_the_line(tmp_path):
    path = tmp_path / "pred.jsonl"
    good = "".join(json.dumps(r) + "\n" for r in oracle_rows(2)).encode()
    path.write_bytes(good + b'{"task_id": 1, "type": "O0", "prediction": "\xff\xfe"}\n')
    with pytest.raises(UserError, match=r"pred\.jsonl:3: not valid UTF-8"):
        load_predictions(path, load_benchmark(MINI))


def test_missing_predictions_are_listed(tmp_path):
    path = write_lines(tmp_path / "pred.jsonl", oracle_rows(10))
    with pytest.raises(UserError, match=r"2 benchmark tasks have no prediction \(e.g. 3/O2, 3/O3\)"):
        load_predictions(path, load_benchmark(MINI))


def test_cli_reports_bad_file_as_an_error_exit(tmp_path, capsys):
    pred = write_lines(tmp_path / "pred.jsonl", oracle_rows(1) + [{"task_id": 5, "type": "O0", "prediction": ""}])
    code = cli.main(["--benchmark", str(MINI), "--predictions", str(pred), "--out", str(tmp_path / "out")])
    assert code == 2
    assert "pred.jsonl:2: unknown task (task_id 5, type O0)" in capsys.readouterr().err


def test_cli_scores_predictions_and_writes_the_report(tmp_path, capsys):
    rows = oracle_rows()
    rows[1]["prediction"] = "int func0(float *numbers, int size { return 0; }"  # task 0 / O1 broken
    pred = write_lines(tmp_path / "pred.jsonl", rows)
    out = tmp_path / "out"
    code = cli.main(["--benchmark", str(MINI), "--predictions", str(pred), "--out", str(out), "--jobs", "2"])
    assert code == 0
    report = json.loads((out / "report.json").read_text())
    assert report["levels"]["O1"] == {"rows": 3, "reexec_rate": 66.67, "compile_rate": 66.67,
                                      "edit_similarity": pytest.approx(report["levels"]["O1"]["edit_similarity"])}
    assert report["levels"]["O0"]["reexec_rate"] == 100.0
    assert report["total"]["rows"] == 12 and report["total"]["reexec_rate"] == pytest.approx(91.67)
    assert report["settings"]["predictions"] == str(pred) and report["settings"]["sandbox_namespaces"] is True
    scored = [json.loads(line) for line in (out / "rows.jsonl").read_text().splitlines()]
    assert len(scored) == 12
    broken = next(r for r in scored if (r["task_id"], r["type"]) == (0, "O1"))
    assert broken["reason"] == "compile error (function alone)" and "error" in broken["compile_error"]
    assert (out / "reexec.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    md = (out / "report.md").read_text()
    assert "| O1 | 3 | 66.67 | 66.67 |" in md and "Ghidra alone (published, full set)" in md
    assert "average 91.67%" in capsys.readouterr().out


def test_cli_limit_scores_a_prefix(tmp_path):
    pred = write_lines(tmp_path / "pred.jsonl", oracle_rows(3))
    out = tmp_path / "out"
    assert cli.main(["--benchmark", str(MINI), "--predictions", str(pred), "--out", str(out), "--limit", "3"]) == 0
    assert len((out / "rows.jsonl").read_text().splitlines()) == 3


def test_benchmark_with_duplicate_rows_is_refused(tmp_path):
    rows = json.loads(MINI.read_text())
    (tmp_path / "bench.json").write_text(json.dumps(rows + rows[:1]))
    with pytest.raises(UserError, match=r"bench\.json: record 13: duplicate task \(task_id 0, type O0\)"):
        load_benchmark(tmp_path / "bench.json")
