"""Crash-safe checkpoints, shared by both training paths.

A checkpoint is written into `<root>/.staging/<name>/`, every rank fsyncs what it wrote,
then rank 0 adds a completion marker (with every file's size), renames the directory to
`<root>/<name>` and only then updates the `latest` pointer. A crash at any moment leaves
either the previous state or the new complete checkpoint, plus perhaps a half-written
directory under `.staging/`, which resuming reports and ignores.

Layouts of <root>: the ZeRO path (HF Trainer) uses `<output_dir>/checkpoint-N` and a
`latest_checkpoint` pointer; the pipeline path uses `<output_dir>/checkpoints/step-N` and
`latest` (DeepSpeed's own name).
"""
from __future__ import annotations

from contextlib import contextmanager

import errno
import json
import logging
import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

from ..errors import UserError

log = logging.getLogger(__name__)

MARKER = "decomptune_complete.json"
STAGING = ".staging"
DELETING = ".deleting-"


@dataclass(frozen=True)
class Scheme:
    """Where one training path keeps its checkpoints, relative to output_dir."""
    subdir: str  # "" = output_dir itself
    prefix: str  # "checkpoint-" -> checkpoint-12
    latest: str  # the pointer file's name in the root

    def root(self, output_dir: str | Path) -> Path:
        return Path(output_dir) / self.subdir if self.subdir else Path(output_dir)

    def name(self, step: int) -> str:
        return f"{self.prefix}{step}"

    def step_of(self, name: str) -> int | None:
        match = re.fullmatch(re.escape(self.prefix) + r"(\d+)", name)
        return int(match.group(1)) if match else None


ZERO = Scheme(subdir="", prefix="checkpoint-", latest="latest_checkpoint")
PIPELINE = Scheme(subdir="checkpoints", prefix="step-", latest="latest")


@dataclass(frozen=True)
class Found:
    path: Path
    step: int
    problem: str | None  # None = complete


# ---------------------------------------------------------------- writing


def staging_dir(root: Path, name: str) -> Path:
    return root / STAGING / name


def fsync_tree(path: Path) -> None:
    """Flush every file and directory under path to disk (each rank calls it on its own writes)."""
    for dirpath, _dirs, files in os.walk(path):
        for name in files:
            _fsync(Path(dirpath) / name)
        _fsync(Path(dirpath), directory=True)


def _fsync(path: Path, directory: bool = False) -> None:
    fd = os.open(path, os.O_RDONLY | (os.O_DIRECTORY if directory else 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_text_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w", encoding="utf-8") as fh:
        fh.write(text)
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, path)
    _fsync(path.parent, directory=True)


def file_sizes(path: Path) -> dict[str, int]:
    return {str(p.relative_to(path)): p.stat().st_size for p in sorted(path.rglob("*"))
            if p.is_file() and p.name != MARKER}


def clear_staging(root: Path) -> None:
    """Rank 0, before a save: drop what an interrupted save (or delete) left behind."""
    for leftover in [*(root / STAGING).glob("*"), *root.glob(DELETING + "*")]:
        log.warning("removing %s, left by an interrupted checkpoint save", leftover)
        shutil.rmtree(leftover, ignore_errors=True)


def commit(staged: Path, scheme: Scheme, root: Path, step: int) -> Path:
    """Rank 0, after every rank fsynced its part: mark complete, rename into place, point latest at it."""
    write_text_atomic(staged / MARKER, json.dumps({"step": step, "files": file_sizes(staged)}, indent=1))
    final = root / scheme.name(step)
    if final.exists():  # the same step saved again (a resumed run): the new one wins
        _delete(final)
    os.rename(staged, final)
    _fsync(root, directory=True)
    try:
        staged.parent.rmdir()  # .staging, when nothing else is in it
    except OSError:
        pass
    write_text_atomic(root / scheme.latest, final.name + "\n")
    return final


def rotate(root: Path, scheme: Scheme, keep: int | None) -> None:
    """save_total_limit: keep the newest `keep` complete checkpoints; never the newest one."""
    if not keep:
        return
    complete = [f for f in scan(root, scheme) if f.problem is None]
    for old in complete[:-max(1, keep)]:
        _delete(old.path)


def _delete(path: Path) -> None:
    # Rename first: a crash mid-delete must not leave a half-deleted dir under a checkpoint's name.
    doomed = path.with_name(DELETING + path.name)
    os.rename(path, doomed)
    shutil.rmtree(doomed, ignore_errors=True)


# ---------------------------------------------------------------- reading


def check_complete(path: Path) -> str | None:
    """None if path is a complete checkpoint, else what is wrong with it."""
    marker = path / MARKER
    if not marker.is_file():
        return f"no completion marker ({MARKER}): its save never finished"
    try:
        expected = json.loads(marker.read_text(encoding="utf-8"))["files"]
    except (ValueError, KeyError) as exc:
        return f"unreadable completion marker: {exc}"
    actual = file_sizes(path)
    for name, size in expected.items():
        if name not in actual:
            return f"file {name} is missing"
        if actual[name] != size:
            return f"file {name} has {actual[name]} bytes, {size} were written"
    return None


def scan(root: Path, scheme: Scheme) -> list[Found]:
    """Every checkpoint under root, complete or not, oldest first."""
    found = []
    for place in (root, root / STAGING):
        if not place.is_dir():
            continue
        for path in place.iterdir():
            step = scheme.step_of(path.name)
            if step is None or not path.is_dir():
                continue
            problem = ("half-written: a save was interrupted before it completed" if place != root
                       else check_complete(path))
            found.append(Found(path, step, problem))
    return sorted(found, key=lambda f: (f.step, f.problem is None))


def newest_complete(root: Path, scheme: Scheme) -> Path | None:
    """The newest complete checkpoint; the incomplete ones newer than it are reported."""
    found = scan(root, scheme)
    complete = [f for f in found if f.problem is None]
    newest = complete[-1] if complete else None
    for f in found:
        if f.problem and (newest is None or f.step >= newest.step) and os.environ.get("RANK", "0") == "0":
            log.warning("ignoring checkpoint %s: %s", f.path, f.problem)
    return newest.path if newest else None


def resolve_resume(spec: str | None, output_dir: str | Path, scheme: Scheme) -> Path | None:
    """--resume auto|PATH -> the checkpoint directory to load, or None to start fresh."""
    if not spec:
        return None
    if spec == "auto":
        root = scheme.root(output_dir)
        chosen = newest_complete(root, scheme)
        if os.environ.get("RANK", "0") == "0":
            log.info("--resume auto: %s", f"resuming from {chosen}" if chosen else
                     f"no complete checkpoint under {root}; starting from step 0")
        return chosen
    path = Path(spec)
    if not path.is_dir():
        raise UserError(f"--resume {spec}: no such checkpoint directory; give a {scheme.prefix}N directory, "
                        "or --resume auto to take the newest complete one in --output_dir")
    if scheme.step_of(path.name) is None:  # a run's output_dir or checkpoint root: its newest
        root = scheme.root(path) if not (path / scheme.latest).exists() else path
        chosen = newest_complete(root, scheme)
        if chosen is None:
            raise UserError(f"--resume {spec}: no complete {scheme.prefix}N checkpoint in {root}; "
                            "drop --resume to start from scratch")
        return chosen
    problem = check_complete(path)
    if STAGING in path.parts or (problem and (path / MARKER).exists()):
        raise UserError(f"--resume {spec}: checkpoint is incomplete ({problem or 'half-written'}); "
                        "use --resume auto to take the newest complete one")
    if problem:  # saved by a plain HF Trainer or an older decomptune: cannot be verified
        log.warning("--resume %s: %s; trusting it as complete", spec, problem)
    return path


# ---------------------------------------------------------------- failures


_DISK_FULL = (errno.ENOSPC, errno.EDQUOT, errno.EFBIG)
# How a short write surfaces when it is not an OSError (torch.save's zip writer, safetensors).
_SHORT_WRITE = ("write failed", "unexpected pos", "No space left", "Disk quota", "File too large")


def is_disk_full(exc: BaseException, where: Path | None = None) -> bool:
    """A failed write on a full disk (or quota): by errno, by message, or by the space left."""
    for link in _chain(exc):
        if isinstance(link, OSError) and link.errno in _DISK_FULL:
            return True
        if isinstance(link, (OSError, RuntimeError)) and any(sign in str(link) for sign in _SHORT_WRITE):
            return True
    if where is not None and where.exists() and isinstance(exc, (OSError, RuntimeError)):
        return shutil.disk_usage(where).free < 64 * 2**20
    return False


def _chain(exc: BaseException | None):
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        yield exc
        exc = exc.__cause__ or exc.__context__


@contextmanager
def writing(staged: Path, root: Path, scheme: Scheme):
    """Around the writes of one staged checkpoint: a failure removes the partial save and is
    raised again, as a clear UserError when the disk is full."""
    try:
        yield
    except Exception as exc:
        error = save_failed(exc, staged, root, scheme)
        if error is exc:
            raise
        raise error from exc


def save_failed(exc: BaseException, staged: Path, root: Path, scheme: Scheme) -> BaseException:
    """The error to raise when writing a checkpoint failed: a clear one for a full disk."""
    full = is_disk_full(exc, staged if staged.exists() else root)
    shutil.rmtree(staged, ignore_errors=True)
    try:
        staged.parent.rmdir()
    except OSError:
        pass
    if not full:
        return exc
    previous = [f for f in scan(root, scheme) if f.problem is None]
    kept = f"the previous checkpoint {previous[-1].path} is intact" if previous else "no earlier checkpoint exists"
    free = shutil.disk_usage(root).free if root.exists() else 0
    return UserError(f"disk full while saving checkpoint {staged.name} under {root} ({free // 2**20} MiB free "
                     "once the partial save was removed): "
                     f"{kept}. Free space (or lower --save_total_limit), then rerun with --resume auto")


# ---------------------------------------------------------------- compatibility

# What must agree between a checkpoint and the model a run builds for the weights to load.
SHAPE_KEYS = ("model_type", "vocab_size", "hidden_size", "intermediate_size", "num_hidden_layers",
              "num_attention_heads", "num_key_value_heads", "tie_word_embeddings")


def check_same_model(checkpoint: Path, model_config, model_name: str) -> None:
    """Refuse, before any process starts, a checkpoint saved from a different model."""
    saved_file = checkpoint / "config.json"
    if not saved_file.is_file():
        return  # nothing to compare against; DeepSpeed's loader will check the tensors
    saved = json.loads(saved_file.read_text(encoding="utf-8"))
    here = model_config.to_dict()
    differ = [f"{key} {saved[key]!r} there, {here.get(key)!r} here" for key in SHAPE_KEYS
              if key in saved and saved[key] != here.get(key)]
    if differ:
        raise UserError(f"checkpoint {checkpoint} was saved from a different model than {model_name!r} "
                        f"({'; '.join(differ)}): pass the --model_name_or_path it was trained from, "
                        "or drop --resume to start fresh")


def check_same_layout(checkpoint: Path, tp: int, pp: int, dp: int) -> None:
    """Pipeline checkpoints hold per-stage, per-TP-rank shards: resuming needs the same layout."""
    meta_file = checkpoint / "decomptune_pipeline.json"
    if not meta_file.is_file():
        return
    meta = json.loads(meta_file.read_text(encoding="utf-8"))
    saved, here = {k: meta.get(k) for k in ("tp", "pp", "dp")}, {"tp": tp, "pp": pp, "dp": dp}
    if saved != here:
        raise UserError(f"checkpoint {checkpoint} was saved with layout {saved}, this run is {here}: resuming "
                        f"needs the same layout and number of processes. To change layout, "
                        f"`decomptune export {checkpoint} OUT` and train from OUT")
