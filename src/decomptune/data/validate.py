"""Row checks before tokenization: each row's input and output must be a non-empty string.

Found problems either stop the run with the rows named, or (skip_bad_rows) are left out and
counted. Columns stored as Arrow strings are checked in vectorised batches; anything else
(ints, mixed JSON values) is checked value by value.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field

import datasets
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from .errors import DataError

log = logging.getLogger(__name__)

SHOW_ROWS = 5  # how many bad rows an error or report spells out
_BATCH = 50_000


@dataclass
class BadRows:
    indices: list[int] = field(default_factory=list)  # sorted, 0-based, all of them
    examples: list[str] = field(default_factory=list)  # "row 3: column 'output' is empty", first few


def validate_rows(
    ds: datasets.Dataset, columns: list[str], source: str, skip_bad_rows: bool
) -> tuple[datasets.Dataset, BadRows]:
    """ds without its bad rows (or an error naming them), and which rows were bad."""
    missing = [c for c in columns if c not in ds.column_names]
    if missing:
        raise DataError(
            f"{source}: column(s) {missing} not found; its columns are {ds.column_names}. "
            "Name the right ones with --input_column / --output_column (data.input_column / data.output_column)."
        )
    problems: dict[int, str] = {}
    for column in columns:
        for index, problem in _column_problems(ds, column):
            problems.setdefault(index, f"row {index}: column {column!r} {problem}")
    bad = BadRows(indices=sorted(problems), examples=[problems[i] for i in sorted(problems)[:SHOW_ROWS]])
    if not bad.indices:
        return ds, bad
    listed = "; ".join(bad.examples) + (" ..." if len(bad.indices) > SHOW_ROWS else "")
    if not skip_bad_rows:
        raise DataError(
            f"{source}: {len(bad.indices)} of {len(ds)} rows are unusable (each needs a non-empty string "
            f"in {columns}; rows count from 0): {listed}. Fix or remove those rows, or pass "
            "--skip_bad_rows to leave them out."
        )
    log.warning("%s: skipping %d bad rows: %s", source, len(bad.indices), listed)
    bad_set = set(bad.indices)
    return ds.select([i for i in range(len(ds)) if i not in bad_set]), bad


def _column_problems(ds: datasets.Dataset, column: str):
    feature = ds.features[column]
    one_column = ds.select_columns([column])
    offset = 0
    if isinstance(feature, datasets.Value) and feature.dtype in ("string", "large_string"):
        for batch in one_column.with_format("arrow").iter(batch_size=_BATCH):
            yield from _string_problems(batch.column(column), offset)
            offset += len(batch)
        return
    # Not an Arrow string column (ints, or JSON-typed mixed values): look at each Python value.
    for batch in one_column.iter(batch_size=_BATCH):
        for i, value in enumerate(batch[column]):
            problem = _value_problem(value)
            if problem:
                yield offset + i, problem
        offset += len(batch[column])


def _string_problems(values: pa.ChunkedArray, offset: int):
    try:
        values.validate(full=True)  # Arrow's JSON reader lets invalid UTF-8 through unchecked
    except pa.ArrowInvalid:
        for i, raw in enumerate(values.cast(pa.binary()).to_pylist()):
            try:
                problem = _value_problem(None if raw is None else raw.decode("utf-8"))
            except UnicodeDecodeError:
                problem = "is not valid UTF-8 text"
            if problem:
                yield offset + i, problem
        return
    null = pc.is_null(values).to_numpy(zero_copy_only=False)
    blank = pc.equal(pc.utf8_length(pc.utf8_trim_whitespace(values)), 0).fill_null(False)
    blank = blank.to_numpy(zero_copy_only=False)
    for i in np.flatnonzero(null | blank):
        yield offset + int(i), "is missing (null)" if null[i] else "is empty"


def _value_problem(value) -> str | None:
    if value is None:
        return "is missing (null)"
    if not isinstance(value, str):
        return f"is not a string (got {type(value).__name__} {str(value)[:30]!r})"
    if not value.strip():
        return "is empty"
    return None
