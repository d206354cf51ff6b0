#!/usr/bin/env bash
# Set up .venv for decomptune on any machine: keep a torch the user already has
# (their CUDA build), otherwise install the CPU build; then the project itself.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
VENV=${VENV:-.venv}
STAMP="$VENV/.setup-done"

if [ -f "$STAMP" ] && [ "$STAMP" -nt pyproject.toml ] && [ "$STAMP" -nt scripts/setup.sh ]; then
  exit 0
fi

if [ ! -x "$VENV/bin/python" ]; then
  # --system-site-packages lets a GPU user's preinstalled CUDA torch be seen and kept.
  "$PY" -m venv --system-site-packages "$VENV"
fi
VPY="$VENV/bin/python"
"$VPY" -m pip install -q --upgrade pip setuptools wheel

if "$VPY" -c "import torch" 2>/dev/null; then
  echo "setup: keeping installed torch $("$VPY" -c 'import torch; print(torch.__version__)')"
else
  echo "setup: no torch found, installing the CPU build (torch==${TORCH_VERSION:-2.13.0})"
  "$VPY" -m pip install -q "torch==${TORCH_VERSION:-2.13.0}"
fi

# DeepSpeed builds from sdist; its ops are JIT-compiled on first use instead.
if ! "$VPY" -c "import deepspeed" 2>/dev/null; then
  DS_BUILD_OPS=0 "$VPY" -m pip install -q "deepspeed>=0.19,<0.20" --no-build-isolation
fi
"$VPY" -m pip install -q -e ".[dev]"

# The dataset builder's decompiler (flatline) needs Python >= 3.13: a helper venv.
bash scripts/setup_decompiler.sh || echo "setup: WARNING: decompiler helper not installed; build-data will not work"
touch "$STAMP"
echo "setup: done ($VENV)"
