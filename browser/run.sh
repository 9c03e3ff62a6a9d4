#!/usr/bin/env bash
# Browser tests (headless Chromium via playwright-core) against a real server built from this
# tree:
#
#   bash browser/run.sh
#
# Needs node (>= 18) and /usr/bin/chromium (Debian: apt-get install -y chromium; CHROMIUM=path
# overrides). Installs the locked npm packages when missing, builds the debug binary, starts it
# on 127.0.0.1:0 with a temp data folder, runs `node --test` in browser/, stops the server it
# started. Exit 0 = every test passed. Screenshots are left in browser/screenshots/.
set -euo pipefail
cd "$(dirname "$0")/.."

[ -d browser/node_modules/playwright-core ] || (cd browser && npm ci --no-audit --no-fund)
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
for _ in $(seq 1 150); do
  URL="$(sed -n 's/^listening on \(http:\/\/[0-9.:]*\)$/\1/p' "$TMP/stdout" | head -n1)"
  [ -n "$URL" ] && break
  kill -0 "$SERVER_PID" 2>/dev/null || { cat "$TMP/stderr"; echo "server exited"; exit 1; }
  sleep 0.1
done
[ -n "$URL" ] || { cat "$TMP/stderr"; echo "server did not start"; exit 1; }

cd browser
BASE_URL="$URL" node --test
