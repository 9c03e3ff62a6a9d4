# Sourced by the check scripts (browser/run.sh, fuzz/run.sh, fuzz/validate_openapi.sh):
#
#   source scripts/temp_server.sh
#   start_temp_server [extra server flags...]
#
# Builds the debug binary, starts it on 127.0.0.1:0 with every folder in a fresh temp folder
# ($TMP) and automatic backups off, waits for its `listening on` line and sets $URL and
# $SERVER_PID. On exit the server is stopped (SIGTERM, then waited for) and $TMP removed.

TMP="$(mktemp -d)"
SERVER_PID=""
cleanup_temp_server() {
  if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill -TERM "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  rm -rf "$TMP"
}
trap cleanup_temp_server EXIT

start_temp_server() {
  cargo build --quiet --bin agendamento
  local bin="${CARGO_TARGET_DIR:-target}/debug/agendamento"
  # The part-1 contract: single-user mode (AGENDAMENTO_AUTH=on to check sign-in).
  AGENDAMENTO_AUTH="${AGENDAMENTO_AUTH:-off}" "$bin" --addr 127.0.0.1:0 --data-dir "$TMP/banco" --backup-dir "$TMP/backups" \
    --reports-dir "$TMP/reports" --logs-dir "$TMP/logs" --backup-interval-secs 0 "$@" \
    >"$TMP/stdout" 2>"$TMP/stderr" &
  SERVER_PID=$!
  URL=""
  for _ in $(seq 1 150); do
    URL="$(sed -n 's/^listening on \(http:\/\/[0-9.:]*\)$/\1/p' "$TMP/stdout" | head -n1)"
    [ -n "$URL" ] && return 0
    kill -0 "$SERVER_PID" 2>/dev/null || { cat "$TMP/stderr"; echo "server exited"; exit 1; }
    sleep 0.1
  done
  cat "$TMP/stderr"
  echo "server did not start"
  exit 1
}
