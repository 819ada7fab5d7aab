#!/usr/bin/env bash
# Set up ppu in ./.venv on a fresh machine. `./setup.sh --dev` adds what the tests need.
# torch is installed first, pinned to the CPU build: BoTorch would otherwise pull CUDA.
set -euo pipefail
cd "$(dirname "$0")"
PY=${PYTHON:-python3.11}
command -v "$PY" >/dev/null || PY=python3
[ -x .venv/bin/python ] || "$PY" -m venv .venv
pip() { .venv/bin/python -m pip --disable-pip-version-check -q "$@"; }
pip install "torch==2.13.0"
if [ "${1:-}" = "--dev" ]; then
  pip install -e ".[dev]"
else
  pip install -e .
fi
