#!/usr/bin/env bash
# API fuzzing: schemathesis (from PyPI) with ALL its checks against a real server built from
# this tree, generating requests from the server's own /openapi.json.
#
#   bash fuzz/run.sh [max examples per operation, default 40]
#
# Installs schemathesis if missing, builds the debug binary, starts it on 127.0.0.1:0 with
# a temp data folder and the demo data, runs, stops the server it started. Exit 0 = no failure.
set -euo pipefail
cd "$(dirname "$0")/.."
EXAMPLES="${1:-40}"

if ! command -v st >/dev/null 2>&1; then
  python3 -m pip install --quiet --disable-pip-version-check "schemathesis>=4.3,<5"
fi
ST="$(command -v st || echo "python3 -m schemathesis.cli")"
source scripts/temp_server.sh
start_temp_server
echo "fuzzing $URL with schemathesis ($($ST --version)), $EXAMPLES examples per operation"

status=0
PYTHONPATH="$PWD/fuzz${PYTHONPATH:+:$PYTHONPATH}" SCHEMATHESIS_HOOKS=hooks \
  $ST --config-file fuzz/schemathesis.toml run "$URL/openapi.json" \
  --checks all --max-examples "$EXAMPLES" --seed 20261122 --no-color || status=$?

if grep -E "panicked|ERROR" "$TMP/stderr" | grep -v "write refused by storage" | head -20; then
  echo "server logged errors or panics during fuzzing"
  status=1
fi
exit $status
