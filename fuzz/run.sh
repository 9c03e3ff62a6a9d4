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
cargo build --quiet --bin agendamento
BIN="${CARGO_TARGET_DIR:-target}/debug/agendamento"

TMP="$(mktemp -d)"
SERVER_PID=""
cleanup() {
  if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  rm -rf "$TMP"
}
trap cleanup EXIT

"$BIN" --addr 127.0.0.1:0 --data-dir "$TMP/banco" --backup-dir "$TMP/backups" \
  --reports-dir "$TMP/reports" --logs-dir "$TMP/logs" --backup-interval-secs 0 \
  >"$TMP/stdout" 2>"$TMP/stderr" &
SERVER_PID=$!
URL=""
for _ in $(seq 1 100); do
  URL="$(sed -n 's/^listening on \(http:\/\/[0-9.:]*\)$/\1/p' "$TMP/stdout" | head -n1)"
  [ -n "$URL" ] && break
  kill -0 "$SERVER_PID" 2>/dev/null || { cat "$TMP/stderr"; echo "server exited"; exit 1; }
  sleep 0.1
done
[ -n "$URL" ] || { cat "$TMP/stderr"; echo "server did not start"; exit 1; }
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
