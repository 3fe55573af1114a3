#!/bin/sh
# Make the studio home on first start (reelforge.toml, keys/, the catalog schema), then run the
# command. Only the server's first start creates it; workers start after the server is healthy.
set -eu
home="${REELFORGE_HOME:-/studio}"
if [ ! -f "$home/reelforge.toml" ]; then
  reelforge init "$home"
fi
exec "$@"
