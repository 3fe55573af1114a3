#!/usr/bin/env bash
# One command: install what is needed, then build and run the demo studio (./reelforge-demo).
# `./scripts/demo.sh --serve` then serves it: the web studio opens in the browser, with a demo
# account printed on the terminal.
set -euo pipefail
cd "$(dirname "$0")/.."
REELFORGE_EXTRAS=${REELFORGE_EXTRAS:-embeddings,server,editorial,vfx} bash scripts/bootstrap.sh
exec .venv/bin/reelforge demo reelforge-demo --fresh "$@"
