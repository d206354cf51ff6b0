"""Quality filters and the train/validation split, each one counted for the build report."""
from __future__ import annotations

import hashlib
import re
from collections import Counter
from collections.abc import Callable

from decomptune.build.normalize import INTERNAL_TYPE_RE

_COMMENT_RE = re.compile(r"/\*.*?\*/|//[^\n]*", re.S)
_TRIVIAL_BODY_RE = re.compile(r"^(return\s*[\w.'\"-]*\s*;)?$")


def function_key(source_text: str) -> str:
    """The split/dedup key: the function's text with whitespace collapsed."""
    return hashlib.sha256(" ".join(source_text.split()).encode()).hexdigest()


def is_trivial(source_text: str) -> bool:
    """An empty body, or one that only returns a constant or a parameter: nothing to learn."""
    body = source_text[source_text.find("{") + 1:source_text.rfind("}")]
    body = " ".join(_COMMENT_RE.sub(" ", body).split())
    return bool(_TRIVIAL_BODY_RE.match(body))


def in_validation(key: str, valid_fraction: float) -> bool:
    return int(key[:8], 16) / 0x100000000 < valid_fraction


def apply_filters(rows: list[dict], counts: Counter, *, dedup_levels: bool = False,
                  max_tokens: int | None = None, count_tokens: Callable[[list[str]], list[int]] | None = None,
                  ) -> list[dict]:
    """Drop trivial functions, repeated functions, optionally repeated pseudo-C across levels,
    and rows over the token limit. ``rows`` must be in a stable order (file, function, level)."""
    kept: list[dict] = []
    owner: dict[str, tuple[str, str]] = {}  # function key -> (file, name) that kept it
    seen_pseudo: set[tuple[str, str]] = set()
    for row in rows:
        key = row["_key"]
        if INTERNAL_TYPE_RE.search(row["instruction"]):
            # normalize() maps every internal type name; one left over means a gap in its table.
            counts["internal_names_left"] += 1
        if is_trivial(row["output"]):
            counts["trivial_function"] += 1
            continue
        first = owner.setdefault(key, (row["source_file"], row["function"]))
        if first != (row["source_file"], row["function"]):
            counts["duplicate_function"] += 1
            continue
        if dedup_levels:
            pseudo = (key, row["instruction"])
            if pseudo in seen_pseudo:
                counts["same_pseudo_c_other_level"] += 1
                continue
            seen_pseudo.add(pseudo)
        kept.append(row)
    if max_tokens is not None and kept:
        counter = count_tokens or char_token_estimate
        lengths = counter([r["instruction"] + "\n" + r["output"] for r in kept])
        before = len(kept)
        kept = [r for r, n in zip(kept, lengths) if n <= max_tokens]
        counts["over_max_tokens"] += before - len(kept)
    return kept


def char_token_estimate(texts: list[str]) -> list[int]:
    """Fallback when no tokenizer is available: BPE tokenizers average ~3.5 chars/token on C."""
    return [len(t) * 2 // 7 + 1 for t in texts]


def split_rows(rows: list[dict], valid_fraction: float, counts: Counter) -> list[dict]:
    for row in rows:
        row["split"] = "valid" if in_validation(row["_key"], valid_fraction) else "train"
        counts[f"rows_{row['split']}"] += 1
    return rows
