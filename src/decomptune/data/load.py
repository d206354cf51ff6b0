"""Find and load (input, output) pairs: a hub dataset, a .json/.jsonl/.parquet file, a
directory of them, or "sample" (the pairs shipped in the package).

Local files go through datasets.load_dataset too, so they are converted to Arrow once and
cached, and the tokenization map after them is cached as well.
"""
from __future__ import annotations

import json
import logging
import re
from pathlib import Path

import datasets

from .errors import DataError

log = logging.getLogger(__name__)

SAMPLE_NAME = "sample"
SAMPLE_DIR = Path(__file__).resolve().parents[1] / "assets" / "sample"
# The sample's pair files by split: named explicitly, so other files the sample directory
# carries (its README, the eval harness) are never read as training rows.
SAMPLE_FILES = {"train": SAMPLE_DIR / "train.jsonl", "validation": SAMPLE_DIR / "valid.jsonl"}
BUILDERS = {".json": "json", ".jsonl": "json", ".parquet": "parquet"}
# In a directory, files are sorted into splits by name, like the hub does
# (train.jsonl, valid.jsonl, validation-00000-of-00001.parquet, test.json, ...).
_VALIDATION_NAME = re.compile(r"^(valid|validation|val|dev)([-_.\d]|$)", re.IGNORECASE)
_TEST_NAME = re.compile(r"^test([-_.\d]|$)", re.IGNORECASE)


def load_split(data_path: str, validation_path: str | None, split: str) -> tuple[datasets.Dataset, str] | None:
    """The raw rows of one split and a short description of where they came from.

    split="validation" reads validation_path, or, when that is unset and data_path is a
    directory (or "sample"), that directory's valid*/validation*/dev* files; None if none.
    """
    if split not in ("train", "validation"):
        raise ValueError(f"split must be 'train' or 'validation', not {split!r}")
    if data_path == SAMPLE_NAME and (split == "train" or not validation_path):
        return _load_files([SAMPLE_FILES[split]]), f"the shipped sample ({SAMPLE_FILES[split].name})"
    if split == "train":
        return _load_spec(data_path, "train", role="train")
    if validation_path:
        return _load_spec(validation_path, "validation", role="any")
    local = _local_path(data_path)
    if local is not None and local.is_dir():
        files = _files_in_dir(local, "validation")
        if files:
            return _load_files(files), f"{local} ({len(files)} validation file(s))"
    return None


def _local_path(spec: str) -> Path | None:
    if spec == SAMPLE_NAME:
        return SAMPLE_DIR
    path = Path(spec).expanduser()
    if path.exists():
        return path
    if path.suffix in BUILDERS or spec.startswith((".", "/", "~")):
        raise DataError(f"data file or directory {spec!r} does not exist (resolved to {path.resolve()})")
    return None  # not a local path: a hub dataset name


def _load_spec(spec: str, hub_split: str, role: str) -> tuple[datasets.Dataset, str]:
    local = _local_path(spec)
    if local is None:
        return _load_hub(spec, hub_split)
    if local.is_dir():
        files = _files_in_dir(local, role)
        if not files:
            raise DataError(
                f"directory {local} has no {'' if role == 'any' else role + ' '}data files: "
                f"expected *.json, *.jsonl or *.parquet"
                + ("" if role == "any" else " (files named valid*/val*/dev*/test* are held out of training)")
            )
        return _load_files(files), f"{local} ({len(files)} file(s))"
    if local.suffix not in BUILDERS:
        raise DataError(f"{local}: unsupported file type {local.suffix!r}; use .json, .jsonl or .parquet")
    return _load_files([local]), str(local)


def _load_hub(spec: str, default_split: str) -> tuple[datasets.Dataset, str]:
    # "owner/name" or "owner/name:split".
    name, _, split = spec.partition(":")
    split = split or default_split
    log.info("loading hub dataset %s, split %s", name, split)
    return datasets.load_dataset(name, split=split), f"{name} (hub, split {split})"


def _role(relative: Path) -> str:
    """A file's split from its name or a folder's (valid.jsonl, validation/part-0.parquet)."""
    if any(_VALIDATION_NAME.match(part) for part in relative.parts):
        return "validation"
    if any(_TEST_NAME.match(part) for part in relative.parts):
        return "test"
    return "train"


def _files_in_dir(directory: Path, role: str) -> list[Path]:
    files = sorted(
        p for p in directory.rglob("*")
        if p.suffix in BUILDERS and p.is_file()
        and not any(part.startswith(".") for part in p.relative_to(directory).parts)  # .cache/, .git/
    )
    roles = {p: _role(p.relative_to(directory)) for p in files}
    if role == "any":
        # An explicit validation_path: prefer its validation files, else take all of it.
        return [p for p in files if roles[p] == "validation"] or files
    chosen = [p for p in files if roles[p] == role]
    held_out = [str(p.relative_to(directory)) for p in files if roles[p] != role]
    if chosen and held_out:
        log.info("%s: using %d %s file(s), leaving out %s", directory, len(chosen), role, held_out)
    return chosen


def _load_files(files: list[Path]) -> datasets.Dataset:
    by_builder: dict[str, list[str]] = {}
    for path in files:
        if path.stat().st_size == 0:
            raise DataError(f"{path} is empty: put pairs in it, or remove it")
        by_builder.setdefault(BUILDERS[path.suffix], []).append(str(path))
    parts = []
    for builder, paths in by_builder.items():
        try:
            parts.append(datasets.load_dataset(builder, data_files=paths, split="train"))
        except Exception as err:  # datasets wraps parse errors without the line; find it ourselves
            if builder == "json":
                for path in paths:
                    problem = find_json_problem(Path(path))
                    if problem:
                        raise DataError(problem) from err
            cause = f" ({type(err.__cause__).__name__}: {err.__cause__})" if err.__cause__ else ""
            raise DataError(f"could not load {', '.join(paths)}: {type(err).__name__}: {err}{cause}") from err
    if len(parts) == 1:
        return parts[0]
    try:
        return datasets.concatenate_datasets(parts)
    except ValueError as err:
        raise DataError(f"the files in {files[0].parent} do not share the same columns and types: {err}") from err


def find_json_problem(path: Path) -> str | None:
    """'<file>, line N: <what is wrong>; <fix>' for the first malformed record of a JSON or
    JSON-lines file, or None if every record is a well-formed JSON object."""
    fix = "fix or delete that line, then run again"
    with path.open("rb") as f:
        if f.read(4096).lstrip().startswith(b"["):
            f.seek(0)
            return _json_array_problem(path, f.read())
        f.seek(0)
        for lineno, raw in enumerate(f, start=1):  # streamed: JSON-lines files can be large
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError:
                return f"{path}, line {lineno}: not UTF-8 text; save the file as UTF-8 (or {fix})"
            if not line.strip():
                continue
            try:
                record = json.loads(line)
            except json.JSONDecodeError as err:
                return f"{path}, line {lineno}: invalid JSON ({err.msg}, column {err.colno}); {fix}"
            if not isinstance(record, dict):
                return f"{path}, line {lineno}: expected a JSON object per line, got {type(record).__name__}; {fix}"
    return None


def _json_array_problem(path: Path, data: bytes) -> str | None:
    try:
        records = json.loads(data.decode("utf-8"))
    except UnicodeDecodeError as err:
        return f"{path}: not UTF-8 text (byte {err.start}); save the file as UTF-8"
    except json.JSONDecodeError as err:
        return f"{path}, line {err.lineno}: invalid JSON ({err.msg}, column {err.colno}); fix it, then run again"
    for i, record in enumerate(records):
        if not isinstance(record, dict):
            return f"{path}, array item {i}: expected a JSON object with the input and output columns, " \
                   f"got {type(record).__name__}"
    return None
