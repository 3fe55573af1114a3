#!/usr/bin/env bash
# Refresh the web UI's message catalogs after changing strings: extract every _()/gettext from the
# pages' Python and templates into messages.pot, then merge it into each language's messages.po
# (new strings arrive empty; translate them, then run the tests: tests/web/test_i18n.py checks that
# every string has a translation).
set -euo pipefail
cd "$(dirname "$0")/../src/reelforge/web"
PYBABEL=${PYBABEL:-../../../.venv/bin/pybabel}
"$PYBABEL" extract -F babel.cfg --no-location --sort-output -k _ -k N_ -k gettext -k ngettext:1,2 \
  --project reelforge --copyright-holder "reelforge" -o locale/messages.pot .
for lang in zh_CN; do
  po=locale/$lang/LC_MESSAGES/messages.po
  if [ -f "$po" ]; then
    "$PYBABEL" update --no-fuzzy-matching --omit-header -i locale/messages.pot -d locale -l "$lang"
  else
    "$PYBABEL" init -i locale/messages.pot -d locale -l "$lang"
  fi
done
