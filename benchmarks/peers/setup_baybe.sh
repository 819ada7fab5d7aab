#!/usr/bin/env bash
# BayBE in its own venv (benchmarks/peers/.venv-baybe), for planner_vs_peers.py only: it is
# not a dependency of ppu. torch is pinned and installed first, so BayBE does not pull a
# CUDA build of several GB.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
venv="$here/.venv-baybe"
python3.11 -m venv "$venv"
"$venv/bin/pip" install -q --upgrade pip
"$venv/bin/pip" install -q "torch==2.13.0"
"$venv/bin/pip" install -q "baybe==0.15.0" "pandas<3"
"$venv/bin/python" -c "import baybe; print('baybe', baybe.__version__, 'in', '$venv')"
