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
source scripts/temp_server.sh
start_temp_server

AGENDAMENTO_BIN="$PWD/${CARGO_TARGET_DIR:-target}/debug/agendamento"
export AGENDAMENTO_BIN
cd browser
BASE_URL="$URL" node --test
