#!/usr/bin/env bash
# One command: install what is needed, then build and run the demo studio (./reelforge-demo).
set -euo pipefail
cd "$(dirname "$0")/.."
REELFORGE_EXTRAS=${REELFORGE_EXTRAS:-embeddings} bash scripts/bootstrap.sh
exec .venv/bin/reelforge demo "${1:-reelforge-demo}" --fresh
