"""Where training metrics go, on both training paths: OUTPUT/metrics.jsonl and
OUTPUT/metrics.csv always, plus TensorBoard and/or Weights & Biases (--report_to).

Both paths hand one dict per logging step to `MetricSinks.log` on rank 0, so every
reporter sees the same names: the JSONL/CSV keep HF's plain keys (loss, learning_rate,
grad_norm, ...); TensorBoard and W&B get HF's "train/" prefix for keys without a "/".
`StepMeter` adds what HF does not log: tokens/s, the useful-token ratio and memory.
"""
from __future__ import annotations

import csv
import importlib.util
import json
import logging
import netrc
import os
import time
from pathlib import Path
from urllib.parse import urlparse

log = logging.getLogger(__name__)

METRICS_FILE = "metrics.jsonl"
CSV_FILE = "metrics.csv"
TENSORBOARD_DIR = "tensorboard"
REPORTERS = {"tensorboard": "tensorboard", "wandb": "wandb"}  # name -> module that must import
INSTALL_HINT = "pip install 'decomptune[logging]'"


def parse_report_to(text: str | None) -> list[str]:
    """'none' | 'all' | 'tensorboard,wandb' -> the reporters to use; refuses unknown or missing ones."""
    if text is None or text.strip().lower() in ("", "none", "no"):
        return []
    names = [n.strip().lower() for n in text.split(",") if n.strip()]
    if names == ["all"]:
        names = [n for n, module in REPORTERS.items() if importlib.util.find_spec(module)]
    for name in names:
        if name not in REPORTERS:
            raise ValueError(f"--report_to {text!r}: unknown reporter {name!r}; use none, all, or a comma list "
                             f"of {', '.join(REPORTERS)} (metrics.jsonl and metrics.csv are always written)")
        if importlib.util.find_spec(REPORTERS[name]) is None:
            raise ValueError(f"--report_to {name}: the {name} package is not installed; {INSTALL_HINT}, "
                             "or drop it from --report_to")
    return names


# ---------------------------------------------------------------- token and memory meters

def batch_token_counts(batch: dict) -> tuple[int, int]:
    """(real tokens, computed tokens) of one collated batch: padding is computed but not real."""
    ids = batch["input_ids"]
    mask = batch.get("attention_mask")
    if mask is None and "labels" in batch:
        # Packed rows (data/packing.py) carry no mask: every example ends with a target
        # token (its EOS), so a row's real tokens end at its last label that is not -100.
        targets = batch["labels"] != -100
        last = targets.shape[1] - targets.flip(1).int().argmax(1)
        return int((last * targets.any(1)).sum()), ids.numel()
    real = int((mask != 0).sum()) if mask is not None else ids.numel()  # packed rows may number segments
    return real, ids.numel()


def memory_metrics() -> dict[str, float]:
    """This process's memory: CPU resident set, and GPU allocated / peak / reserved."""
    import psutil
    import torch

    gib = 1024 ** 3
    out = {"memory/cpu_rss_gb": round(psutil.Process().memory_info().rss / gib, 3)}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        out["memory/gpu_allocated_gb"] = round(torch.cuda.memory_allocated() / gib, 3)
        out["memory/gpu_peak_gb"] = round(torch.cuda.max_memory_allocated() / gib, 3)
        out["memory/gpu_reserved_gb"] = round(torch.cuda.memory_reserved() / gib, 3)
    return out


class StepMeter:
    """Counts tokens between two logging points and turns them into rates.

    `add` takes this rank's (or, in the pipeline path, the whole step's) counts;
    `interval(totals)` takes counts already summed over the data-parallel replicas."""

    def __init__(self):
        self.real = self.computed = 0
        self.tokens_seen = 0
        self.last = time.perf_counter()
        self.started = False

    def add(self, real: int, computed: int) -> None:
        if not self.started:  # the clock starts with the first batch, not with model loading
            self.last, self.started = time.perf_counter(), True
        self.real += real
        self.computed += computed

    def local_counts(self) -> list[int]:
        return [self.real, self.computed]

    def interval(self, totals: list[int] | None = None) -> dict[str, float]:
        real, computed = totals if totals is not None else self.local_counts()
        now = time.perf_counter()
        seconds = max(now - self.last, 1e-9)
        self.tokens_seen += real
        out = {"tokens_per_s": round(real / seconds, 2),
               "useful_token_ratio": round(real / computed, 4) if computed else 0.0,
               "tokens_seen": self.tokens_seen}
        self.real = self.computed = 0
        self.last = now
        return {**out, **memory_metrics()}


# ---------------------------------------------------------------- sinks

class CsvWriter:
    """metrics.csv with one column per key ever logged; rewritten when a new key appears
    (eval rows bring keys that training rows lack), appended to otherwise."""

    def __init__(self, path: Path):
        self.path = path
        self.rows: list[dict] = []
        self.columns: list[str] = []

    def write(self, row: dict) -> None:
        self.rows.append(row)
        new = [k for k in row if k not in self.columns]
        if new or not self.path.exists():
            self.columns += new
            with self.path.open("w", newline="", encoding="utf-8") as fh:
                writer = csv.DictWriter(fh, fieldnames=self.columns)
                writer.writeheader()
                writer.writerows(self.rows)
        else:
            with self.path.open("a", newline="", encoding="utf-8") as fh:
                csv.DictWriter(fh, fieldnames=self.columns).writerow(row)


def reporter_key(key: str) -> str:
    return key if "/" in key else f"train/{key}"


def wandb_mode() -> str | None:
    """'offline' when no W&B credentials are configured, so `--report_to wandb` works on any
    machine (and in CI) without a login prompt; `wandb sync OUTPUT/wandb/offline-run-*` uploads later."""
    if os.environ.get("WANDB_MODE") or os.environ.get("WANDB_API_KEY"):
        return None  # the user decided
    host = urlparse(os.environ.get("WANDB_BASE_URL", "https://api.wandb.ai")).hostname
    try:
        if netrc.netrc().authenticators(host):
            return None
    except (FileNotFoundError, netrc.NetrcParseError, OSError):
        pass
    return "offline"


class MetricSinks:
    """Rank 0's writers. `log(step, metrics)` appends one row everywhere; `close()` flushes."""

    def __init__(self, output_dir: str | Path, report_to: str | list[str] | None = None,
                 run_config: dict | None = None, first_step: int = 0):
        """first_step: the step a resumed run continues after; 0 for a fresh run."""
        self.dir = Path(output_dir)
        self.dir.mkdir(parents=True, exist_ok=True)
        self.jsonl = self.dir / METRICS_FILE
        # A fresh run in an old directory must not plot the old run's losses; a resumed one
        # keeps the rows up to its checkpoint and drops those the crashed run logged after it.
        kept = [r for r in readable_rows(self.jsonl) if r.get("step", 0) <= first_step] if first_step else []
        self.jsonl.write_text("".join(json.dumps(r) + "\n" for r in kept), encoding="utf-8")
        (self.dir / CSV_FILE).unlink(missing_ok=True)
        self.csv = CsvWriter(self.dir / CSV_FILE)
        for row in kept:
            self.csv.write(row)
        self.start = time.time()
        names = parse_report_to(report_to) if isinstance(report_to, (str, type(None))) else list(report_to)
        self.tensorboard = self.wandb = None
        if "tensorboard" in names:
            from torch.utils.tensorboard import SummaryWriter

            self.tensorboard = SummaryWriter(log_dir=str(self.dir / TENSORBOARD_DIR))
        if "wandb" in names:
            self.wandb = self._start_wandb(run_config or {})

    def _start_wandb(self, run_config: dict):
        import wandb

        mode = wandb_mode()
        if mode:
            log.warning("W&B: no API key found; logging offline to %s/wandb (upload later with `wandb sync`)",
                        self.dir)
        return wandb.init(project=os.environ.get("WANDB_PROJECT", "decomptune"), dir=str(self.dir),
                          name=os.environ.get("WANDB_NAME", self.dir.name), config=run_config, mode=mode)

    def log(self, step: int, metrics: dict) -> dict:
        row = {"step": step, "elapsed_s": round(time.time() - self.start, 3), **metrics}
        with self.jsonl.open("a", encoding="utf-8") as fh:
            fh.write(json.dumps(row) + "\n")
        self.csv.write(row)
        numbers = {reporter_key(k): v for k, v in metrics.items()
                   if isinstance(v, (int, float)) and not isinstance(v, bool)}
        if self.tensorboard is not None:
            for key, value in numbers.items():
                self.tensorboard.add_scalar(key, value, step)
            self.tensorboard.flush()
        if self.wandb is not None:
            self.wandb.log({**numbers, "train/global_step": step}, step=step)
        return row

    def close(self) -> None:
        if self.tensorboard is not None:
            self.tensorboard.close()
            self.tensorboard = None
        if self.wandb is not None:
            self.wandb.finish()
            self.wandb = None


def readable_rows(path: Path) -> list[dict]:
    """The rows of a metrics log a crash may have cut mid-line: the damaged line is skipped."""
    rows = []
    if path.exists():
        for line in path.read_text(encoding="utf-8").splitlines():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError:
                log.warning("%s: skipping a damaged line (a crash mid-write?): %.80s", path, line)
    return rows


def read_metrics(output_dir: str | Path) -> list[dict]:
    path = Path(output_dir) / METRICS_FILE
    if not path.exists():
        return []
    rows = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if line.strip():
            try:
                rows.append(json.loads(line))
            except json.JSONDecodeError as exc:
                raise ValueError(f"{path}:{number}: not a JSON line ({exc}); the metrics log is damaged") from exc
    return rows


def step_losses(output_dir: str | Path) -> dict[int, float]:
    """Per-step training loss (needs logging_steps=1 for every step)."""
    return {row["step"]: row["loss"] for row in read_metrics(output_dir) if "loss" in row}
