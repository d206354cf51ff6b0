"""The data pipeline in one call: load ▶ validate rows ▶ tokenize and mask ▶ report."""
from __future__ import annotations

import logging

import datasets

from decomptune.config import DataArgs

from .errors import DataError
from .load import load_split
from .packing import add_length_column, pack_dataset
from .report import DataReport
from .tokenize import OVERLONG_POLICIES, tokenize_rows
from .validate import SHOW_ROWS, validate_rows

log = logging.getLogger(__name__)


def prepare_dataset(data_args: DataArgs, tokenizer, split: str = "train") -> tuple[datasets.Dataset | None, DataReport | None]:
    """(dataset with columns input_ids and labels, report) for split "train" or "validation".

    For "validation" with nothing to validate on (no validation_path, and data_path is not
    a directory with valid*/dev* files), returns (None, None).
    """
    if data_args.overlong_policy not in OVERLONG_POLICIES:
        raise DataError(f"overlong_policy must be one of {OVERLONG_POLICIES}, not {data_args.overlong_policy!r}")
    if data_args.model_max_length < 2:
        raise DataError(f"model_max_length must be at least 2 tokens, not {data_args.model_max_length}")
    if data_args.packing and data_args.group_by_length:
        raise DataError("packing and group_by_length are alternatives: packed rows are already full; "
                        "use one of --packing / --group_by_length")
    loaded = load_split(data_args.data_path, data_args.validation_path, split)
    if loaded is None:
        return None, None
    raw, source = loaded
    columns = [data_args.input_column, data_args.output_column]
    rows, bad = validate_rows(raw, columns, source, data_args.skip_bad_rows)
    if len(rows) == 0:
        raise DataError(f"no {split} rows left to train on: all {len(raw)} rows of {source} are bad or it is empty")
    valid_rows = len(rows)
    if data_args.max_rows is not None and data_args.max_rows < len(rows):
        rows = rows.select(range(data_args.max_rows))
    tokenized, counts = tokenize_rows(
        rows, tokenizer,
        template=data_args.prompt_template,
        input_column=data_args.input_column,
        output_column=data_args.output_column,
        max_length=data_args.model_max_length,
        policy=data_args.overlong_policy,
        num_proc=data_args.num_proc,
    )
    report = DataReport(
        split=split, source=source, rows_loaded=len(raw),
        max_length=data_args.model_max_length, policy=data_args.overlong_policy,
        left_out_by_max_rows=valid_rows - len(rows),
        dropped_bad_rows=len(bad.indices), bad_row_indices=bad.indices[:SHOW_ROWS], bad_row_examples=bad.examples,
        **vars(counts),
    )
    log.info("%s", report.summary())
    if report.kept == 0:
        raise DataError(f"no {split} rows left to train on.\n{report.summary()}")
    if data_args.packing and split == "train":
        tokenized = pack_dataset(tokenized, data_args.model_max_length, seed=0)
    elif data_args.group_by_length and split == "train":
        tokenized = add_length_column(tokenized)
    return tokenized, report
