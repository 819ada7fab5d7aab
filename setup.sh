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
  # Debian's chromium for the dashboard's browser test (no browser download here), and
  # Debian's PostgreSQL server, of which the tests start a throwaway cluster on 127.0.0.1
  want=()
  [ -x /usr/bin/chromium ] || want+=(chromium)
  compgen -G "/usr/lib/postgresql/*/bin/pg_ctl" >/dev/null || want+=(postgresql)
  # iproute2 (ip, tc) and nftables (nft) for the test that puts an instrument PC in a
  # network namespace behind a slow, lossy link
  command -v tc >/dev/null || want+=(iproute2)
  command -v nft >/dev/null || want+=(nftables)
  if [ ${#want[@]} -gt 0 ] && command -v apt-get >/dev/null; then
    { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${want[@]}"; } \
      >/dev/null 2>&1 || echo "setup: could not install ${want[*]}; their tests will be skipped" >&2
  fi
else
  pip install -e .
fi
