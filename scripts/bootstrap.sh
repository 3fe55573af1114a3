#!/usr/bin/env bash
# Set up everything reelforge needs on a fresh machine, idempotently:
# a virtualenv in .venv, torch 2.13.0 (CPU) first so nothing pulls a CUDA build, then the project.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
EXTRAS=${REELFORGE_EXTRAS:-dev,embeddings}
if [ ! -x .venv/bin/python ]; then
  "$PY" -m venv .venv
fi
stamp=.venv/.reelforge-installed
want="$(sha256sum pyproject.toml | cut -c1-16)-$EXTRAS"
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  .venv/bin/python -m pip install -q --upgrade pip
  .venv/bin/python -m pip install -q "torch==2.13.0"
  # The pins in pyproject.toml resolve in seconds; a resolver that backtracks for longer than this
  # is a bug in those pins, so fail loudly instead of hanging CI.
  if ! timeout "${REELFORGE_PIP_TIMEOUT:-1200}" .venv/bin/python -m pip install -q -e ".[$EXTRAS]"; then
    echo "bootstrap: pip install -e '.[$EXTRAS]' failed or exceeded ${REELFORGE_PIP_TIMEOUT:-1200}s (resolver backtracking? check the pins in pyproject.toml)" >&2
    exit 1
  fi
  echo "$want" > "$stamp"
fi
