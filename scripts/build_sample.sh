#!/usr/bin/env bash
# Rebuild the bundled sample (src/decomptune/assets/sample) from corpus/, written for this project.
# Needs gcc (x86-64) and the decompiler helper (scripts/setup_decompiler.sh).
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-.venv/bin/python}
OUT=${OUT:-runs/sample-build}
"$PY" corpus/generate.py corpus/generated
"$PY" -m decomptune.build.cli corpus/handwritten corpus/generated --out "$OUT" \
  --opt O0 O1 O2 O3 --jobs "${JOBS:-2}" --valid-fraction 0.1 --max-tokens 2048
cp "$OUT/train.jsonl" "$OUT/valid.jsonl" src/decomptune/assets/sample/
"$PY" -m decomptune.eval.harness corpus --out src/decomptune/assets/sample/harness.jsonl
echo "build_sample: copied $OUT/{train,valid}.jsonl to src/decomptune/assets/sample/ (report: $OUT/build-report.json)"
