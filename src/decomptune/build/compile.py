"""Compile one C file into a linked x86-64 executable per optimisation level.

Why linked executables rather than object files: the reference data (LLM4Decompile's
decompile-ghidra, HumanEval-Decompile's "executable" variant) was decompiled from linked
binaries, so its pseudo-C shows resolved addresses (``DAT_001020d0``, ``LAB_0010139a``) and
callees by name through the PLT (``strlen``). In an object file every call and data reference is
an unapplied relocation: the decompiler would see ``call 0`` everywhere.

A file without ``main`` still links: a weak ``main`` is added (a file's own ``main`` wins), and
references to functions the file only declares are left unresolved rather than failing the
link, so the file's own functions can still be decompiled.
"""
from __future__ import annotations

import os
import subprocess
import tempfile

OPT_LEVELS = ("O0", "O1", "O2", "O3")
# Ubuntu's gcc enables the stack protector by default and the reference data was built there,
# hence ``in_FS_OFFSET``/``__stack_chk_fail`` in its pseudo-C; Debian's gcc does not.
DEFAULT_CFLAGS = ("-fstack-protector-strong",)
_WEAK_MAIN = "__attribute__((weak)) int main(void) { return 0; }\n"
GCC_TIMEOUT_S = 60


class CompileError(RuntimeError):
    pass


def weak_main_source(workdir: str) -> str:
    path = os.path.join(workdir, "decomptune_weak_main.c")
    if not os.path.exists(path):
        with open(path, "w") as fh:
            fh.write(_WEAK_MAIN)
    return path


def compile_executable(src: str, opt: str, workdir: str, cc: str = "gcc",
                       cflags: tuple[str, ...] = DEFAULT_CFLAGS) -> str:
    """Build ``src`` at ``-<opt>`` into ``workdir``; return the executable's path."""
    if opt not in OPT_LEVELS:
        raise ValueError(f"unknown optimisation level {opt!r}; use one of {', '.join(OPT_LEVELS)}")
    out = os.path.join(workdir, f"{os.path.basename(src)}.{opt}.elf")
    cmd = [cc, f"-{opt}", "-w", *cflags, "-o", out, src, weak_main_source(workdir), "-lm",
           "-Wl,--unresolved-symbols=ignore-all"]
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=GCC_TIMEOUT_S,
                              errors="replace")
    except subprocess.TimeoutExpired as exc:
        raise CompileError(f"{src}: gcc -{opt} timed out after {GCC_TIMEOUT_S}s") from exc
    if proc.returncode != 0:
        first = next((line for line in proc.stderr.splitlines() if "error" in line), proc.stderr.strip()[:200])
        raise CompileError(f"{src}: gcc -{opt} failed: {first}")
    return out


def scratch_dir() -> tempfile.TemporaryDirectory:
    return tempfile.TemporaryDirectory(prefix="decomptune-build-")
