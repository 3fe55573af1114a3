#!/usr/bin/env bash
# One command: install what is needed, then run the whole test suite (SQLite and PostgreSQL).
# PostgreSQL: REELFORGE_TEST_PG (default postgresql://postgres@127.0.0.1:5432/postgres); tests that
# need it skip when none answers, unless REELFORGE_REQUIRE_POSTGRES=1 (CI), which makes that a failure.
set -euo pipefail
cd "$(dirname "$0")/.."
# The whole suite exercises every extra (server, editorial, S3, Ray, ...), so install them all.
REELFORGE_EXTRAS=${REELFORGE_EXTRAS:-all} bash scripts/bootstrap.sh
.venv/bin/ruff check src tests benchmarks scripts
exec .venv/bin/python -m pytest -q -p no:cacheprovider --timeout=1200 --durations=25 "$@"
