"""What a person watching a run sees: a bar with ETA on a terminal, plain log lines in CI
and SLURM logs (no carriage-return spam), and nothing from ranks other than 0."""
from __future__ import annotations

import logging
import os
import sys
import time

log = logging.getLogger("decomptune.progress")


def on_terminal(stream=None) -> bool:
    stream = stream or sys.stderr  # tqdm draws on stderr
    return bool(getattr(stream, "isatty", lambda: False)())


def configure_console(rank: int) -> None:
    """Call once per process, before the data is tokenized."""
    import datasets
    import transformers

    if rank != 0:
        logging.getLogger().setLevel(logging.WARNING)
        logging.getLogger("decomptune").setLevel(logging.WARNING)
        transformers.logging.set_verbosity_warning()
        datasets.disable_progress_bars()
        os.environ["TQDM_DISABLE"] = "1"  # any other bar that does not decide for itself
    elif not on_terminal():
        # The data report line follows tokenization; a bar redrawn with \r only clutters a log file.
        datasets.disable_progress_bars()
        os.environ.setdefault("TQDM_MININTERVAL", "30")


def format_duration(seconds: float) -> str:
    seconds = int(max(0, seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h}:{m:02d}:{s:02d}" if h else f"{m:02d}:{s:02d}"


class TrainProgress:
    """Steps, loss and tokens/s: a tqdm bar on a terminal, else one log line per logging step.
    Only rank 0 creates one (enabled=False elsewhere)."""

    def __init__(self, total_steps: int, first_step: int = 0, enabled: bool = True, terminal: bool | None = None,
                 desc: str = "training"):
        self.total, self.step, self.enabled = total_steps, first_step, enabled
        self.first_step, self.desc = first_step, desc
        self.start = time.time()
        self.terminal = on_terminal() if terminal is None else terminal
        self.bar = None
        if enabled and self.terminal:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=total_steps, initial=first_step, desc=desc, unit="step", dynamic_ncols=True)

    def update(self, step: int) -> None:
        if self.bar is not None:
            self.bar.update(step - self.step)
        self.step = step

    def eta(self) -> float | None:
        done = self.step - self.first_step
        if done <= 0:
            return None
        return (time.time() - self.start) / done * (self.total - self.step)

    def line(self, metrics: dict) -> str:
        pct = 100.0 * self.step / self.total if self.total else 100.0
        eta = self.eta()
        parts = [f"{self.desc} step {self.step}/{self.total} ({pct:.0f}%)"]
        for key, fmt in (("loss", "loss {:.4f}"), ("learning_rate", "lr {:.3g}"), ("grad_norm", "grad_norm {:.3g}"),
                         ("tokens_per_s", "{:.0f} tokens/s"), ("useful_token_ratio", "useful {:.0%}")):
            if isinstance(metrics.get(key), (int, float)):
                parts.append(fmt.format(metrics[key]))
        parts.append(f"elapsed {format_duration(time.time() - self.start)}")
        if eta is not None:
            parts.append(f"eta {format_duration(eta)}")
        return " | ".join(parts)

    def show(self, metrics: dict) -> None:
        """A logging step's metrics: bar postfix on a terminal, a log line otherwise."""
        if not self.enabled:
            return
        if self.bar is not None:
            post = {k: f"{metrics[k]:.4g}" for k in ("loss", "tokens_per_s") if isinstance(metrics.get(k), (int, float))}
            self.bar.set_postfix(post, refresh=True)
        else:
            log.info("%s", self.line(metrics))

    def note(self, text: str) -> None:
        """A message (eval results, ...) that must not break the bar."""
        if not self.enabled:
            return
        if self.bar is not None:
            self.bar.write(text)
        else:
            log.info("%s", text)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
            self.bar = None
