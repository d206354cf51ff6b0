"""Compile and decompile one C file; also a JSON-lines server so it can run in another interpreter.

The decompiler (flatline) needs Python >= 3.13 while the training environment may be older,
so this module imports nothing from decomptune outside ``decomptune.build`` and nothing heavy
(no torch): the helper interpreter only needs flatline and pyelftools, plus ``PYTHONPATH``
pointing at decomptune's source (see ``decomptune.build.pool``).

Server protocol: one JSON job per stdin line, one JSON result per stdout line.
"""
from __future__ import annotations

import json
import os
import sys
import time

from decomptune.build.compile import DEFAULT_CFLAGS, CompileError, compile_executable, scratch_dir
from decomptune.build.elfimage import NotAnElfError, load_elf
from decomptune.build.normalize import normalize

LANGUAGE_ID = "x86:LE:64:default"
HLT_PAD = 16
_session = None


def decompiler_version() -> str:
    import flatline

    info = flatline.get_version_info()
    return f"flatline {info.flatline_version} ({info.decompiler_version})"


def _get_session():
    global _session
    if _session is None:
        from flatline import DecompilerSession

        _session = DecompilerSession()
    return _session


def _stop_after(image: bytes, base: int, end: int) -> bytes:
    """Put ``hlt`` right after the function. Without Ghidra's Java side the decompiler cannot know
    that ``__stack_chk_fail``/``exit``/``abort`` never return, and would decompile straight on into
    the next function; ``hlt`` ends that flow, and normalize() turns it into Ghidra's
    "Subroutine does not return" form."""
    off = end - base
    patched = bytearray(image)
    patched[off:off + HLT_PAD] = b"\xf4" * len(patched[off:off + HLT_PAD])
    return bytes(patched)


def decompile_file(job: dict) -> dict:
    """Job: ``path``, ``functions`` (names defined in the source), ``opts``, ``cflags``, ``cc``.

    Result: ``rows`` (function, opt, instruction) and ``failures`` by kind, each entry naming
    the file, level and function so the build report can say what went wrong.
    """
    from flatline import DecompileRequest, FlatlineError

    started = time.perf_counter()
    rows: list[dict] = []
    failures: dict[str, list[str]] = {"compile": [], "decompile": [], "not_in_binary": []}
    session = _get_session()
    with scratch_dir() as workdir:
        for opt in job["opts"]:
            try:
                exe = compile_executable(job["path"], opt, workdir, job.get("cc", "gcc"),
                                         tuple(job.get("cflags", DEFAULT_CFLAGS)))
                elf = load_elf(exe)
            except (CompileError, NotAnElfError) as exc:
                failures["compile"].append(str(exc))
                continue
            for name in job["functions"]:
                sym = elf.functions.get(name)
                if sym is None or sym.size == 0:  # inlined, or only a .isra/.constprop clone left
                    failures["not_in_binary"].append(f"{job['path']}:{name} at -{opt}")
                    continue
                request = DecompileRequest(
                    memory_image=_stop_after(elf.image, elf.base_address, sym.address + sym.size), base_address=elf.base_address, function_address=sym.address,
                    language_id=LANGUAGE_ID, compiler_spec="gcc", function_size_hint=sym.size)
                try:
                    result = session.decompile_function(request)
                except FlatlineError as exc:
                    failures["decompile"].append(f"{job['path']}:{name} at -{opt}: {exc}")
                    continue
                if result.error is not None or not result.c_code:
                    why = result.error.message if result.error else "empty output"
                    failures["decompile"].append(f"{job['path']}:{name} at -{opt}: {why}")
                    continue
                rows.append({"function": name, "opt": opt,
                             "instruction": normalize(result.c_code, elf.names, name)})
    return {"path": job["path"], "rows": rows, "failures": failures,
            "seconds": time.perf_counter() - started}


def serve() -> int:
    """Answer jobs from stdin until it closes. Anything the native code prints goes to stderr."""
    protocol = os.fdopen(os.dup(1), "w", buffering=1)
    os.dup2(2, 1)
    protocol.write(json.dumps({"ready": True, "decompiler": decompiler_version()}) + "\n")
    for line in sys.stdin:
        if not line.strip():
            continue
        job = json.loads(line)
        try:
            result = decompile_file(job)
        except Exception as exc:  # one bad file must not end the build; the report names it
            result = {"path": job.get("path"), "rows": [], "error": f"{type(exc).__name__}: {exc}",
                      "failures": {"decompile": [f"{job.get('path')}: {type(exc).__name__}: {exc}"]}}
        protocol.write(json.dumps(result) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(serve())
