"""What the data pipeline did to a split: rows kept, cut, dropped (and why), tokens."""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class DataReport:
    split: str
    source: str
    rows_loaded: int
    max_length: int
    policy: str
    kept: int = 0
    left_out_by_max_rows: int = 0  # valid rows past data.max_rows, never tokenized
    truncated: int = 0  # kept rows whose prompt was cut from the left (part of kept)
    dropped_bad_rows: int = 0  # failed validation, left out by skip_bad_rows
    dropped_too_long: int = 0  # longer than max_length under policy "drop"
    dropped_target_too_long: int = 0  # target (+ BOS + 1 prompt token) alone exceeds max_length
    total_tokens: int = 0  # over kept rows: prompt + target
    target_tokens: int = 0  # over kept rows: tokens with a label (what the loss sees)
    prompt_tokens_cut: int = 0
    bad_row_indices: list[int] = field(default_factory=list)  # the first few, 0-based
    bad_row_examples: list[str] = field(default_factory=list)

    @property
    def dropped(self) -> int:
        return self.dropped_bad_rows + self.dropped_too_long + self.dropped_target_too_long

    def summary(self) -> str:
        lines = [
            f"data [{self.split}] from {self.source}: {self.rows_loaded} rows loaded, "
            f"{self.kept} kept, {self.dropped} dropped (max length {self.max_length}, policy {self.policy})",
        ]
        if self.left_out_by_max_rows:
            lines.append(f"  left out by max_rows: {self.left_out_by_max_rows}")
        if self.truncated:
            lines.append(f"  prompt cut from the left: {self.truncated} rows ({self.prompt_tokens_cut} tokens removed)")
        if self.dropped_too_long:
            lines.append(f"  dropped, longer than {self.max_length} tokens: {self.dropped_too_long} "
                         "(overlong_policy=truncate_prompt_left would keep those whose target fits)")
        if self.dropped_target_too_long:
            lines.append(f"  dropped, target alone does not fit in {self.max_length} tokens: "
                         f"{self.dropped_target_too_long}")
        if self.dropped_bad_rows:
            lines.append(f"  dropped, bad rows: {self.dropped_bad_rows} (first: {self.bad_row_indices}); "
                         + "; ".join(self.bad_row_examples))
        share = f" ({self.target_tokens / self.total_tokens:.0%})" if self.total_tokens else ""
        lines.append(f"  tokens: {self.total_tokens} in all, {self.target_tokens} of them target{share}")
        return "\n".join(lines)
