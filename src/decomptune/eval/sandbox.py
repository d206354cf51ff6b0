"""Run an untrusted compiled program with limits, no network, and nothing to write but its
own empty directory. The containment itself lives in jail.py (see its docstring); this
side chooses limits, enforces the wall clock, and turns what happened into a reason.
"""
from __future__ import annotations

import functools
import json
import logging
import os
import signal
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from decomptune.eval import jail

log = logging.getLogger(__name__)
JAIL_SCRIPT = Path(jail.__file__)


@dataclass(frozen=True)
class Limits:
    wall_s: float = 10.0
    cpu_s: int = 10
    memory_bytes: int = 1 << 30  # address space per process
    file_bytes: int = 16 << 20  # largest file the program may write (stdout included)
    nproc: int = 16  # processes of the program's own uid
    tmpfs_bytes: int = 32 << 20  # its working directory, in memory


@dataclass(frozen=True)
class RunResult:
    passed: bool
    reason: str  # "ok", "exit code 1", "killed by SIGSEGV", "wall-time limit (10 s) exceeded", ...
    stdout: str
    stderr: str


class SandboxError(RuntimeError):
    """The sandbox itself could not be built: a harness problem, not the program's fault."""


_SIGNAL_HINTS = {
    signal.SIGXCPU: "CPU-time limit exceeded",
    signal.SIGXFSZ: "file-size limit exceeded",
}


def _hidden_paths() -> list[str]:
    paths = ["/tmp", "/var/tmp", "/dev/shm", "/root", "/home", str(Path.home())]
    return sorted(set(p for p in paths if p and p != "/"))


def _spec(exe: Path, box: Path, limits: Limits, args: list[str], isolate: bool) -> dict:
    return {
        "exe": str(exe), "argv0": "./" + exe.name, "args": args, "workdir": str(box / "work"),
        "status_file": str(box / "status"), "isolate": isolate, "drop_root": True,
        "hide": _hidden_paths(), "cpu_s": limits.cpu_s, "memory_bytes": limits.memory_bytes,
        "file_bytes": limits.file_bytes, "nproc": limits.nproc, "tmpfs_bytes": limits.tmpfs_bytes,
        # Nothing of the caller's environment (tokens, paths) reaches the program.
        "env": {"PATH": "/usr/bin:/bin", "LANG": "C", "HOME": "/nonexistent"},
    }


def _tail(path: Path, limit: int = 2000) -> str:
    try:
        data = path.read_bytes()
    except OSError:
        return ""
    return data[-limit:].decode("utf-8", "replace")


def _reason(fate: str, stderr: str) -> tuple[bool, str]:
    kind, _, value = fate.partition(" ")
    if kind == "exit":
        code = int(value)
        if code == 0:
            return True, "ok"
        last = next((line for line in reversed(stderr.splitlines()) if line.strip()), "")
        return False, f"exit code {code}" + (f": {last.strip()[:200]}" if last else "")
    if kind == "signal":
        sig = signal.Signals(int(value))
        hint = _SIGNAL_HINTS.get(sig)
        if sig == signal.SIGKILL:
            hint = "killed (hard CPU-time limit or out of memory)"
        return False, f"killed by {sig.name}" + (f" ({hint})" if hint else "")
    raise SandboxError(f"sandbox setup failed: {value or 'launcher ended without a status'}")


def _launch(exe: Path, limits: Limits, args: list[str], isolate: bool) -> RunResult:
    with tempfile.TemporaryDirectory(prefix="decomptune-sandbox-") as tmp:
        box = Path(tmp)
        (box / "work").mkdir()
        spec = _spec(Path(exe).resolve(), box, limits, args, isolate)
        cmd = [sys.executable, "-I", "-S", str(JAIL_SCRIPT), json.dumps(spec)]
        with open(box / "stdout", "wb") as out, open(box / "stderr", "wb") as err:
            proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=err,
                                    start_new_session=True, close_fds=True)
            try:
                proc.wait(timeout=limits.wall_s)
                timed_out = False
            except subprocess.TimeoutExpired:
                timed_out = True
            finally:
                # The whole group; the jail's reaper takes the rest of its namespace with it.
                try:
                    os.killpg(proc.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                proc.wait()
        stdout, stderr = _tail(box / "stdout"), _tail(box / "stderr")
        if timed_out:
            return RunResult(False, f"wall-time limit ({limits.wall_s:g} s) exceeded", stdout, stderr)
        fate = (box / "status").read_text() if (box / "status").exists() else ""
        passed, reason = _reason(fate or "setup", stderr)
        return RunResult(passed, reason, stdout, stderr)


@functools.cache
def namespaces_available() -> bool:
    """Whether this OS lets us build the isolated sandbox (net, pid, mount namespaces)."""
    try:
        result = _launch(Path("/bin/true"), Limits(wall_s=30), [], isolate=True)
        return result.passed
    except SandboxError as exc:
        log.warning(
            "sandbox: namespaces are not available here (%s). Programs still run with CPU, "
            "memory, file-size and process limits in a private temp directory, but WITHOUT "
            "network isolation and with the file system visible. Run on a host that allows "
            "unprivileged user namespaces (or as root) for full isolation.", exc)
        return False


def run_sandboxed(exe: str | Path, limits: Limits = Limits(), args: list[str] | None = None) -> RunResult:
    """Run a compiled program contained; a program's failure is a result, never an exception."""
    return _launch(Path(exe), limits, list(args or []), isolate=namespaces_available())
