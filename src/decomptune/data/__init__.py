"""The data pipeline: load pairs ▶ validate rows ▶ tokenize with an exact prompt mask ▶ pack (optional) ▶ collate.

    from decomptune.data import prepare_dataset, DecompileCollator, DataReport
    train_ds, report = prepare_dataset(data_args, tokenizer, split="train")
"""
from .collate import DecompileCollator
from .errors import DataError
from .packing import PackedCollator, make_collator, pack_dataset
from .prepare import prepare_dataset
from .report import DataReport
from .tokenize import IGNORE_INDEX

__all__ = ["prepare_dataset", "DecompileCollator", "PackedCollator", "make_collator", "pack_dataset", "DataReport", "DataError", "IGNORE_INDEX"]
