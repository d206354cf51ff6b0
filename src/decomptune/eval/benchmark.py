"""Read a re-executability benchmark (HumanEval-Decompile layout) and a predictions file,
checking every row: a bad row stops the run with its line number and what to fix."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from decomptune.errors import UserError

LEVELS = ("O0", "O1", "O2", "O3")
TASK_FIELDS = {"task_id": int, "type": str, "c_func": str, "c_test": str, "input_asm_prompt": str}
PREDICTION_FIELDS = {"task_id": int, "type": str, "prediction": str}

Key = tuple[int, str]  # (task_id, optimisation level)


@dataclass(frozen=True)
class Task:
    task_id: int
    level: str
    c_func: str  # original source of func0, with its includes
    c_test: str  # a main() with asserts; exit 0 = pass
    input_code: str  # decompiler (or disassembler) output, without prompt
    # Pairs benchmarks (pairs_benchmark.py) only: the declarations the function needs, put
    # before the prediction; a readable name; c_test "" means "no test: compile rate only".
    context: str = ""
    name: str = ""

    @property
    def key(self) -> Key:
        return (self.task_id, self.level)


def _check_fields(row: object, fields: dict[str, type], where: str) -> dict:
    if not isinstance(row, dict):
        raise UserError(f"{where}: expected a JSON object, got {type(row).__name__}")
    for name, kind in fields.items():
        if name not in row:
            raise UserError(f"{where}: missing field {name!r} (each row needs {', '.join(fields)})")
        value = row[name]
        if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
            raise UserError(f"{where}: field {name!r} must be {kind.__name__}, got {value!r:.60}")
    if row["type"] not in LEVELS:
        raise UserError(f"{where}: type {row['type']!r} is not one of {', '.join(LEVELS)}")
    return row


def _read_text(path: Path) -> str:
    try:
        return path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        raise UserError(f"{path}: no such file") from None
    except UnicodeDecodeError as exc:
        line = path.read_bytes()[: exc.start].count(b"\n") + 1
        raise UserError(f"{path}:{line}: not valid UTF-8 (byte {exc.start}); re-save the file as UTF-8") from None
    except OSError as exc:
        raise UserError(f"{path}: cannot read ({exc.strerror})") from None


def _json_lines(path: Path, text: str) -> list[tuple[int, object]]:
    rows = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        try:
            rows.append((number, json.loads(line)))
        except json.JSONDecodeError as exc:
            raise UserError(f"{path}:{number}: invalid JSON ({exc.msg}); write one JSON object per line") from None
    return rows


def load_benchmark(path: str | Path, limit: int | None = None) -> list[Task]:
    """A JSON list (as published) or JSON lines; `limit` keeps the first K rows."""
    path = Path(path)
    text = _read_text(path)
    if text.lstrip().startswith("["):
        try:
            rows = list(enumerate(json.loads(text), 1))
        except json.JSONDecodeError as exc:
            raise UserError(f"{path}: invalid JSON at line {exc.lineno} ({exc.msg})") from None
        label = "record"
    else:
        rows, label = _json_lines(path, text), "line"
    tasks: dict[Key, Task] = {}
    for number, row in rows:
        where = f"{path}: {label} {number}"
        row = _check_fields(row, TASK_FIELDS, where)
        task = Task(row["task_id"], row["type"], row["c_func"], row["c_test"], row["input_asm_prompt"])
        if task.key in tasks:
            raise UserError(f"{where}: duplicate task (task_id {task.task_id}, type {task.level})")
        tasks[task.key] = task
    if not tasks:
        raise UserError(f"{path}: the benchmark has no rows")
    return list(tasks.values())[:limit]


def load_predictions(path: str | Path, tasks: list[Task], required: list[Task] | None = None) -> dict[Key, str]:
    """Predictions as JSON lines {task_id, type, prediction}; each must match a row of `tasks`,
    and every row of `required` (default: all of `tasks`) must have one."""
    path = Path(path)
    known = {task.key for task in tasks}
    predictions: dict[Key, str] = {}
    for number, row in _json_lines(path, _read_text(path)):
        where = f"{path}:{number}"
        row = _check_fields(row, PREDICTION_FIELDS, where)
        key = (row["task_id"], row["type"])
        if key not in known:
            raise UserError(f"{where}: unknown task (task_id {key[0]}, type {key[1]}) - not in the benchmark")
        if key in predictions:
            raise UserError(f"{where}: duplicate prediction for task_id {key[0]}, type {key[1]}; keep one row per task")
        predictions[key] = row["prediction"]
    missing = {task.key for task in (tasks if required is None else required)} - predictions.keys()
    if missing:
        sample = ", ".join(f"{t}/{lv}" for t, lv in sorted(missing)[:5])
        raise UserError(f"{path}: {len(missing)} benchmark tasks have no prediction (e.g. {sample}); "
                        "use --limit to score a prefix of the benchmark")
    return predictions
