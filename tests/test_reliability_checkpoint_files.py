"""The file-level rules of crash-safe checkpoints (train/checkpointing.py), without training:
what counts as complete, what --resume picks, what save_total_limit may delete."""
from __future__ import annotations

import errno
import json
import logging

import pytest

from decomptune.errors import UserError
from decomptune.train import checkpointing as ckpt

Z = ckpt.ZERO


def save(root, step: int, payload: bytes = b"weights") -> None:
    """What a save does: write into staging, then commit."""
    staged = ckpt.staging_dir(root, Z.name(step))
    (staged / "sub").mkdir(parents=True)
    (staged / "model.bin").write_bytes(payload)
    (staged / "sub" / "optim.bin").write_bytes(payload * 2)
    ckpt.fsync_tree(staged)
    ckpt.commit(staged, Z, root, step)


def half_save(root, step: int) -> None:
    staged = ckpt.staging_dir(root, Z.name(step))
    staged.mkdir(parents=True)
    (staged / "model.bin").write_bytes(b"wei")


def test_commit_makes_a_complete_checkpoint_and_moves_latest(tmp_path):
    save(tmp_path, 2)
    save(tmp_path, 4)
    assert [(f.step, f.problem) for f in ckpt.scan(tmp_path, Z)] == [(2, None), (4, None)]
    assert (tmp_path / Z.latest).read_text().strip() == "checkpoint-4"
    marker = json.loads((tmp_path / "checkpoint-4" / ckpt.MARKER).read_text())
    assert marker == {"step": 4, "files": {"model.bin": 7, "sub/optim.bin": 14}}
    assert not (tmp_path / ckpt.STAGING).exists()


def test_auto_resume_skips_and_reports_half_written_and_damaged(tmp_path, caplog):
    save(tmp_path, 2)
    save(tmp_path, 4)
    half_save(tmp_path, 6)  # crash during the save of step 6
    (tmp_path / "checkpoint-4" / "sub" / "optim.bin").write_bytes(b"short")  # damaged after the fact
    with caplog.at_level(logging.WARNING):
        chosen = ckpt.resolve_resume("auto", tmp_path, Z)
    assert chosen == tmp_path / "checkpoint-2"
    assert "checkpoint-6: half-written" in caplog.text
    assert "checkpoint-4: file sub/optim.bin has 5 bytes, 14 were written" in caplog.text


def test_auto_resume_without_checkpoints_starts_fresh(tmp_path):
    assert ckpt.resolve_resume("auto", tmp_path / "new-run", Z) is None
    assert ckpt.resolve_resume(None, tmp_path, Z) is None


def test_explicit_resume_refuses_an_incomplete_checkpoint(tmp_path):
    half_save(tmp_path, 6)
    with pytest.raises(UserError, match="incomplete.*--resume auto"):
        ckpt.resolve_resume(str(ckpt.staging_dir(tmp_path, "checkpoint-6")), tmp_path, Z)
    save(tmp_path, 8)
    (tmp_path / "checkpoint-8" / "model.bin").unlink()
    with pytest.raises(UserError, match="file model.bin is missing"):
        ckpt.resolve_resume(str(tmp_path / "checkpoint-8"), tmp_path, Z)
    with pytest.raises(UserError, match="no such checkpoint directory"):
        ckpt.resolve_resume(str(tmp_path / "checkpoint-99"), tmp_path, Z)


def test_explicit_resume_of_a_run_directory_takes_its_newest(tmp_path):
    save(tmp_path, 2)
    save(tmp_path, 4)
    assert ckpt.resolve_resume(str(tmp_path), tmp_path / "elsewhere", Z) == tmp_path / "checkpoint-4"


def test_rotation_keeps_the_newest_complete_even_when_newer_ones_are_broken(tmp_path):
    for step in (2, 4, 6):
        save(tmp_path, step)
    half_save(tmp_path, 8)
    ckpt.rotate(tmp_path, Z, keep=2)
    assert [f.step for f in ckpt.scan(tmp_path, Z) if f.problem is None] == [4, 6]
    ckpt.rotate(tmp_path, Z, keep=0)  # "no limit"
    ckpt.rotate(tmp_path, Z, keep=1)
    assert [f.step for f in ckpt.scan(tmp_path, Z) if f.problem is None] == [6]
    assert not list(tmp_path.glob(ckpt.DELETING + "*"))


def test_a_new_save_clears_leftovers_of_an_interrupted_one(tmp_path):
    half_save(tmp_path, 6)
    (tmp_path / (ckpt.DELETING + "checkpoint-2")).mkdir()  # a crash in the middle of a rotation
    ckpt.clear_staging(tmp_path)
    assert not list((tmp_path / ckpt.STAGING).iterdir()) and not list(tmp_path.glob(ckpt.DELETING + "*"))


def test_disk_full_is_recognised_in_the_ways_writers_report_it(tmp_path):
    assert ckpt.is_disk_full(OSError(errno.ENOSPC, "No space left on device"))
    assert ckpt.is_disk_full(RuntimeError("[enforce fail at inline_container.cc:672] . unexpected pos 6256448 vs 6"))
    wrapped = RuntimeError("saving failed")
    wrapped.__cause__ = OSError(errno.EDQUOT, "Disk quota exceeded")
    assert ckpt.is_disk_full(wrapped)
    assert not ckpt.is_disk_full(RuntimeError("CUDA out of memory"), tmp_path)  # this disk has room
    assert not ckpt.is_disk_full(ValueError("bad value"))


def test_save_failed_on_a_full_disk_names_the_intact_checkpoint(tmp_path):
    save(tmp_path, 2)
    half_save(tmp_path, 4)
    staged = ckpt.staging_dir(tmp_path, "checkpoint-4")
    error = ckpt.save_failed(OSError(errno.ENOSPC, "No space left on device"), staged, tmp_path, Z)
    assert isinstance(error, UserError)
    assert f"{tmp_path / 'checkpoint-2'} is intact" in str(error) and "--resume auto" in str(error)
    assert not staged.exists()
    other = ValueError("not a disk problem")
    assert ckpt.save_failed(other, staged, tmp_path, Z) is other
