#!/usr/bin/env bash
# Prepare .venv-decompiler (Python >= 3.13) holding flatline, Ghidra's decompiler without Java.
# `decomptune build-data` runs its decompile step there when the training venv cannot import
# flatline (see src/decomptune/build/pool.py); override with DECOMPTUNE_DECOMPILER_PYTHON.
set -euo pipefail
cd "$(dirname "$0")/.."
DVENV=${DECOMPILER_VENV:-.venv-decompiler}
if [ -x "$DVENV/bin/python" ] && "$DVENV/bin/python" -c "import flatline, elftools" 2>/dev/null; then exit 0; fi
PY313=""
for cand in python3.14 python3.13 "$(pyenv root 2>/dev/null)/versions/3.13.0/bin/python3.13"; do
  if command -v "$cand" >/dev/null 2>&1 && "$cand" -c 'import sys; assert sys.version_info >= (3, 13)' 2>/dev/null; then PY313=$cand; break; fi
done
if [ -z "$PY313" ]; then echo "setup_decompiler: no Python >= 3.13 found" >&2; exit 1; fi
"$PY313" -m venv "$DVENV"
"$DVENV/bin/python" -m pip install -q --upgrade pip
# Only what decomptune.build.worker imports: the decompiler and an ELF reader (no torch).
"$DVENV/bin/python" -m pip install -q "flatline>=0.1.2,<0.2" "pyelftools>=0.31"
if ! command -v gcc >/dev/null 2>&1; then echo "setup_decompiler: WARNING: gcc not found; build-data needs it" >&2; fi
