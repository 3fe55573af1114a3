#!/usr/bin/env bash
# One command: install what is needed, generate the reference pages from the code
# (scripts/gen_reference.py -> docs/reference/, git-ignored), then build the documentation site
# offline into build/site. Arguments go to `mkdocs build`: `scripts/docs.sh --strict` fails on any
# warning (a broken link or anchor, a page missing from the nav, or the nav naming a missing page).
set -euo pipefail
cd "$(dirname "$0")/.."
# Extras: server (the REST reference is the server's OpenAPI document) and docs (mkdocs, its theme).
# A venv already installed with every extra (scripts/test.sh) or with docs is kept as it is, rather
# than reinstalled with fewer.
installed=$(cat .venv/.reelforge-installed 2>/dev/null || true)
installed=${installed#*-}
case ",$installed," in
  ,all,|*,docs,*) default=$installed ;;
  *) default=server,docs ;;
esac
REELFORGE_EXTRAS=${REELFORGE_EXTRAS:-$default} bash scripts/bootstrap.sh
.venv/bin/python scripts/gen_reference.py
# Nothing is fetched at build time: the theme's web fonts are off and the offline plugin bundles search.
# (NO_MKDOCS_2_WARNING: Material prints a notice about its successor on every build otherwise.)
export NO_MKDOCS_2_WARNING=1
exec .venv/bin/python -m mkdocs build --clean "$@"
