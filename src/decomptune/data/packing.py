"""Packing: several tokenized examples per row of model_max_length, with no attention between them.

A packed row is the concatenation of whole examples. Its position ids restart at 0 for each
example, and that is all the model needs: with no 2-D attention mask, transformers (5.x)
reads the restarts in `position_ids` and builds a block-diagonal causal mask for sdpa/eager,
or uses flash-attention's variable-length kernel. The first token of every example gets
label -100, so no example is ever trained to predict itself from the one before it (in an
unpacked row that token has nothing before it and is never a target either). Hence the loss
over a packed batch equals the loss over the same examples unpacked.

Rows are filled best-fit-decreasing: longest examples first, each into the fullest row that
still has room. Over many short examples that wastes well under 2% of a row.
"""
from __future__ import annotations

import bisect
import logging

import datasets
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import torch
from datasets.table import InMemoryTable

from .tokenize import IGNORE_INDEX

log = logging.getLogger(__name__)

POSITION_IDS = "position_ids"


def example_lengths(ds: datasets.Dataset) -> np.ndarray:
    """Token count of every row, read from Arrow without building Python lists."""
    parts = [pc.list_value_length(b.column("input_ids")).to_numpy()
             for b in ds.select_columns(["input_ids"]).with_format("arrow").iter(batch_size=50_000)]
    return np.concatenate(parts).astype(np.int64) if parts else np.zeros(0, np.int64)


def add_length_column(ds: datasets.Dataset) -> datasets.Dataset:
    """A "length" column for length-grouped batching (HF's LengthGroupedSampler reads it;
    the pipeline path sorts each step's rows by it)."""
    if "length" in ds.column_names:
        return ds
    return ds.add_column("length", example_lengths(ds).tolist())


def plan_rows(lengths, max_length: int) -> list[list[int]]:
    """Group example indices into rows of at most max_length tokens (best fit, decreasing)."""
    lengths = np.asarray(lengths)
    too_long = np.flatnonzero(lengths > max_length)
    if too_long.size:
        raise ValueError(f"example {int(too_long[0])} has {int(lengths[too_long[0]])} tokens, more than "
                         f"model_max_length={max_length}: tokenize with the same model_max_length before packing")
    rows: list[list[int]] = []
    # (room left, row index), sorted: bisect finds the row with the least room that still fits.
    # Rows with less room than the shortest example are full for good and leave the list.
    rooms: list[tuple[int, int]] = []
    shortest = int(lengths.min()) if lengths.size else 0
    for index in np.argsort(-lengths, kind="stable"):
        need = int(lengths[index])
        at = bisect.bisect_left(rooms, (need, -1))
        if at == len(rooms):
            rows.append([int(index)])
            room, row = max_length - need, len(rows) - 1
        else:
            room, row = rooms.pop(at)
            rows[row].append(int(index))
            room -= need
        if room >= shortest:
            bisect.insort(rooms, (room, row))
    return rows


def pack_dataset(ds: datasets.Dataset, max_length: int, seed: int = 0) -> datasets.Dataset:
    """Packed rows (input_ids, labels, position_ids), in a seeded random order.

    Rows are shuffled once here so the length-sorted fill order does not put all long
    examples at the start of training; the trainer's own shuffling works on top of it.
    Built with Arrow/numpy on flat token arrays: no Python list per token.
    """
    missing = {"input_ids", "labels"} - set(ds.column_names)
    if missing:
        raise ValueError(f"cannot pack: the dataset has no {sorted(missing)} column(s); pack tokenized rows")
    lengths = example_lengths(ds)
    rows = plan_rows(lengths, max_length)
    rows = [rows[i] for i in np.random.default_rng(seed).permutation(len(rows))]
    order = np.fromiter((i for row in rows for i in row), dtype=np.int64, count=len(lengths))
    table = ds.select(order).select_columns(["input_ids", "labels"]).with_format("arrow")[:]
    flat_ids = table.column("input_ids").combine_chunks().flatten()
    flat_labels = table.column("labels").combine_chunks().flatten().to_numpy(zero_copy_only=False).copy()
    lens = lengths[order]
    starts = np.cumsum(lens) - lens  # where each example begins in the flat token array
    flat_labels[starts] = IGNORE_INDEX
    positions = np.arange(int(lens.sum()), dtype=np.int64) - np.repeat(starts, lens)
    examples_per_row = np.array([len(row) for row in rows], dtype=np.int64)
    first_example = np.cumsum(examples_per_row) - examples_per_row
    row_tokens = np.add.reduceat(lens, first_example) if len(rows) else np.zeros(0, np.int64)
    offsets = pa.array(np.concatenate([[0], np.cumsum(row_tokens)]).astype(np.int32))
    packed = pa.table({
        "input_ids": pa.ListArray.from_arrays(offsets, flat_ids),
        "labels": pa.ListArray.from_arrays(offsets, pa.array(flat_labels, type=flat_ids.type)),
        POSITION_IDS: pa.ListArray.from_arrays(offsets, pa.array(positions, type=flat_ids.type)),
    })
    log.info("packed %d examples into %d rows of <= %d tokens (%.1f%% of row capacity used)",
             len(lengths), len(rows), max_length, 100 * lens.sum() / max(1, len(rows) * max_length))
    return datasets.Dataset(InMemoryTable(packed))


class PackedCollator:
    """Packed rows -> input_ids, labels, position_ids (+ use_cache=False), right-padded to the
    longest row (rounded up to pad_to_multiple_of). No attention_mask on purpose: the model
    derives the block-diagonal mask from the position ids. The padding tail gets positions
    0, 1, ... of its own, so it is a separate block no real token attends to, and labels -100.

    flatten=True puts the whole batch into one row instead (HF's DataCollatorWithFlattening
    layout). Flash-attention needs it: transformers takes its variable-length path from
    position ids only for a batch of one row; with several rows it would let the examples
    of a row attend to each other. For sdpa/eager keep rows: their block mask grows with
    the square of the row length.
    """

    def __init__(self, tokenizer, pad_to_multiple_of: int | None = 8, flatten: bool = False):
        pad_id = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else tokenizer.eos_token_id
        if pad_id is None:
            raise ValueError("the tokenizer has neither a pad nor an EOS token to pad batches with")
        self.pad_token_id = pad_id
        self.pad_to_multiple_of = pad_to_multiple_of or 1
        self.flatten = flatten

    def __call__(self, features: list[dict]) -> dict[str, torch.Tensor]:
        for row, f in enumerate(features):
            n = len(f["input_ids"])
            if POSITION_IDS not in f:
                raise ValueError(f"batch row {row} has no position_ids: PackedCollator takes rows from pack_dataset")
            if len(f["labels"]) != n or len(f[POSITION_IDS]) != n:
                raise ValueError(f"batch row {row}: {n} input_ids, {len(f['labels'])} labels, "
                                 f"{len(f[POSITION_IDS])} position_ids; they must match")
        if self.flatten:
            features = [{key: [v for f in features for v in f[key]] for key in ("input_ids", "labels", POSITION_IDS)}]
        longest = max(len(f["input_ids"]) for f in features)
        width = -(-longest // self.pad_to_multiple_of) * self.pad_to_multiple_of
        input_ids = torch.full((len(features), width), self.pad_token_id, dtype=torch.long)
        labels = torch.full((len(features), width), IGNORE_INDEX, dtype=torch.long)
        positions = torch.arange(width).repeat(len(features), 1)
        for row, f in enumerate(features):
            n = len(f["input_ids"])
            input_ids[row, :n] = torch.as_tensor(f["input_ids"], dtype=torch.long)
            labels[row, :n] = torch.as_tensor(f["labels"], dtype=torch.long)
            positions[row, :n] = torch.as_tensor(f[POSITION_IDS], dtype=torch.long)
            positions[row, n:] = torch.arange(width - n)
        # use_cache=False matters: with a KV cache object present (HF creates one whenever
        # config.use_cache is on, in training too) transformers skips packed-sequence detection
        # and the examples of a row would attend to each other.
        return {"input_ids": input_ids, "labels": labels, POSITION_IDS: positions, "use_cache": False}


def make_collator(data_args, tokenizer, model_args=None):
    """The collator that matches prepare_dataset's rows: packed (flattened to one row per batch
    when the model runs flash-attention) or padded."""
    if getattr(data_args, "packing", False):
        flash = False
        if model_args is not None:
            from decomptune.models.loading import attention_implementation

            flash = attention_implementation(model_args) == "flash_attention_2"
        return PackedCollator(tokenizer, flatten=flash)
    from .collate import DecompileCollator

    return DecompileCollator(tokenizer)
