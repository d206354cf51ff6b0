"""Run the decompile step in worker processes, in whichever Python can import flatline.

Which interpreter runs ``decomptune.build.worker``:

1. ``$DECOMPTUNE_DECOMPILER_PYTHON``, when set (a path to a python executable);
2. otherwise the current interpreter, when it can import ``flatline`` (Python >= 3.13 with
   ``pip install flatline``);
3. otherwise the helper environment ``scripts/setup_decompiler.sh`` prepares
   (``.venv-decompiler/bin/python`` next to the training venv or the checkout).

Workers are separate processes in every case: files decompile in parallel (``--jobs``), and a
crash inside the native decompiler costs one file (reported), not the build. The helper
interpreter sees decomptune's ``build`` package through a private ``PYTHONPATH`` directory that
holds only a link to the package, so none of the training venv's packages leak into it.
"""
from __future__ import annotations

import importlib.util
import json
import os
import queue
import subprocess
import sys
import tempfile
import threading
from collections.abc import Iterable, Iterator
from pathlib import Path

import decomptune

ENV_VAR = "DECOMPTUNE_DECOMPILER_PYTHON"
HELPER_VENV = ".venv-decompiler"
FILE_TIMEOUT_S = 600


class DecompilerUnavailable(RuntimeError):
    pass


def find_decompiler_python() -> str:
    override = os.environ.get(ENV_VAR)
    if override:
        if not os.access(override, os.X_OK):
            raise DecompilerUnavailable(f"{ENV_VAR}={override} is not an executable Python")
        return override
    if importlib.util.find_spec("flatline") is not None:
        return sys.executable
    package_root = Path(decomptune.__file__).resolve().parents[2]  # checkout root for -e installs
    for root in (package_root, Path(sys.prefix).resolve().parent, Path.cwd()):
        candidate = root / HELPER_VENV / "bin" / "python"
        if candidate.exists():
            return str(candidate)
    raise DecompilerUnavailable(
        "Ghidra's decompiler (flatline, Python >= 3.13) is not importable here and no helper "
        f"{HELPER_VENV} was found. Run `bash scripts/setup_decompiler.sh`, or set {ENV_VAR} "
        "to a Python >= 3.13 that has `pip install flatline pyelftools`.")


class _Worker:
    def __init__(self, python: str, pythonpath: str, log) -> None:
        env = dict(os.environ, PYTHONPATH=pythonpath, PYTHONUNBUFFERED="1")
        self.proc = subprocess.Popen(
            [python, "-m", "decomptune.build.worker"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
            stderr=log, env=env, text=True, bufsize=1)
        hello = self.proc.stdout.readline()
        if not hello:
            self.proc.kill()
            raise DecompilerUnavailable(
                f"the decompiler worker ({python}) exited at start; see the worker log for its error")
        self.version = json.loads(hello)["decompiler"]

    def run(self, job: dict) -> dict:
        timer = threading.Timer(FILE_TIMEOUT_S, self.proc.kill)
        timer.start()
        try:
            self.proc.stdin.write(json.dumps(job) + "\n")
            self.proc.stdin.flush()
            line = self.proc.stdout.readline()
        except BrokenPipeError:
            line = ""
        finally:
            timer.cancel()
        if not line:
            raise RuntimeError(f"decompiler worker died on {job['path']} (crash or {FILE_TIMEOUT_S}s timeout)")
        return json.loads(line)

    def close(self) -> None:
        if self.proc.poll() is None:
            self.proc.stdin.close()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()


class DecompilerPool:
    """``with DecompilerPool(jobs) as pool: for result in pool.imap_unordered(jobs): …``"""

    def __init__(self, jobs: int, log_path: str | os.PathLike | None = None) -> None:
        self.python = find_decompiler_python()
        self._pathdir = tempfile.TemporaryDirectory(prefix="decomptune-pypath-")
        os.symlink(Path(decomptune.__file__).resolve().parent, Path(self._pathdir.name) / "decomptune")
        self._log = open(log_path, "a") if log_path else subprocess.DEVNULL
        self.jobs = max(1, jobs)
        first = self._spawn()
        self.version = first.version
        self._idle = [first]

    def _spawn(self) -> _Worker:
        return _Worker(self.python, self._pathdir.name, self._log)

    def imap_unordered(self, jobs: Iterable[dict]) -> Iterator[dict]:
        todo: queue.Queue = queue.Queue()
        done: queue.Queue = queue.Queue()
        count = 0
        for job in jobs:
            todo.put(job)
            count += 1
        threads = [threading.Thread(target=self._drain, args=(todo, done), daemon=True)
                   for _ in range(min(self.jobs, count))]
        for t in threads:
            t.start()
        for _ in range(count):
            yield done.get()

    def _drain(self, todo: queue.Queue, done: queue.Queue) -> None:
        worker = self._idle.pop() if self._idle else None
        while True:
            try:
                job = todo.get_nowait()
            except queue.Empty:
                break
            try:
                worker = worker or self._spawn()
                done.put(worker.run(job))
            except Exception as exc:  # a dead worker costs this file; the next job gets a new one
                done.put({"path": job["path"], "rows": [], "crashed": True,
                          "failures": {"decompile": [f"{job['path']}: {exc}"]}})
                if worker is not None:
                    worker.proc.kill()
                worker = None
        if worker is not None:
            self._idle.append(worker)

    def close(self) -> None:
        for worker in self._idle:
            worker.close()
        self._idle.clear()
        if self._log is not subprocess.DEVNULL:
            self._log.close()
        self._pathdir.cleanup()

    def __enter__(self) -> DecompilerPool:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
