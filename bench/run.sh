#!/usr/bin/env bash
# Performance benchmark for Agendamento (see bench/README.md).
#
#   bash bench/run.sh
#
# Knobs (environment): BENCH_CONSULTAS (default 100000), BENCH_DOCTORS (50), BENCH_PATIENTS (2000),
# BENCH_TMPDIR (parent of the temp folder, default /tmp), BENCH_KEEP=1 (keep the temp folder),
# BENCH_SKIP_BUILD=1 (use the binaries already in target/release), BENCH_BIN (server binary to measure),
# BENCH_SOAK_SECS (memory soak length, default 600; 0 skips it), BENCH_SOAK_RATE (300 req/s),
# BENCH_SOAK_WORKERS (8), BENCH_SOAK_MIX (action weights, see bench/soak.rs),
# BENCH_ONLY (comma-separated phases to run: foundation, sched, bloqueios, soak, espera, remarcar, calendario, avisos;
# default all; identidade and estatisticas run only when named, see the medidas block below,
# and so does instancias: several instances on one PostgreSQL, see its block),
# BENCH_REMARCAR_STORED (consultas stored for the remarcar figure, default 100000),
# BENCH_CAL_CONSULTAS (one doctor's appointments for the calendar feed figure, default 5000).
# BENCH_AVISOS_BOOKINGS (bookings per run of the outbox comparison, default 1000), BENCH_AVISOS_ROUNDS
# (its alternating rounds, default 5), BENCH_AVISOS_FILA (deliveries queued for the drain, default 10000).
#
# Everything binds to and targets 127.0.0.1 only; every load loop is bounded in count and time.
# The only process this script stops is the server it started, by its PID.

set -uo pipefail

# 10,000 SSE sockets in the load generator (it also raises its own soft limit to the hard one).
ulimit -n "$(ulimit -Hn)" 2>/dev/null || true

cd "$(dirname "$0")/.." || exit 1
ROOT=$PWD
BIN=${BENCH_BIN:-$ROOT/target/release/agendamento}
LOADGEN=$ROOT/target/release/examples/loadgen

N_CONSULTAS=${BENCH_CONSULTAS:-100000}
N_DOCTORS=${BENCH_DOCTORS:-50}
N_PATIENTS=${BENCH_PATIENTS:-2000}
SMALL=100            # consultas stored for the "small store" latency
SEQ_POSTS=300        # sequential POST /consultas per latency measurement
GC_COUNT=5000        # POST /consultas at concurrency 32 (group commit), at most...
GC_SECS=10           # ...and at most this long
GC_CONC=32
FILL_CONC=32
FILL_MAX_SECS=900    # bound for preloading N_CONSULTAS
LIST_GETS=200        # sequential GET /consultas?limit=500
STATS_GETS=100       # sequential GET /relatorios/estatisticas over the whole preload...
STATS_DE=2024-01-01  # ...whose consultas start on 2024-01-01 (50 doctors x 48 slots a day)
PAINEL_GETS=100      # sequential GETs of /painel and of each request its first load makes
STATS_ATE=2024-12-31
WRK_ARGS=(-t2 -c64 -d10s)
REPORT_DE=2024-01-01 # report filter: consultas 0..9,599 of the preload (4 days x 48 slots x 50 doctors)
REPORT_ATE=2024-01-04
BOOK_COUNT=${BENCH_BOOKINGS:-1000}   # POST /consultas/agendar at concurrency BOOK_CONC...
BOOK_CONC=32
BOOK_SEQ=200                         # ...then one at a time
FANOUT=${BENCH_SUBSCRIBERS:-10000}   # SSE subscribers on one server
SLOTS_CONSULTAS=${BENCH_SLOTS_CONSULTAS:-50000}  # on-grid consultas stored for GET /agenda/slots
SLOTS_GETS=200
SLOTS_BLOCKS=${BENCH_SLOTS_BLOCKS:-2000}  # one-hour /bloqueios among them (SPEC-2 §11)
SOAK_SECS=${BENCH_SOAK_SECS:-600}       # memory soak: mixed load on a third server
SOAK_RATE=${BENCH_SOAK_RATE:-300}       # requests/s over all soak workers (a ceiling)
SOAK_WORKERS=${BENCH_SOAK_WORKERS:-8}
SOAK_MIX=${BENCH_SOAK_MIX:-}            # e.g. read=35,paciente=15,consulta=15,book=20,hold=15
SOAK_DOCTORS=20
SOAK_PATIENTS=400
SOAK_PRIME=10000                        # bookings before the soak: the task history at its cap
REMARCAR_STORED=${BENCH_REMARCAR_STORED:-100000}  # on-grid consultas stored for POST .../remarcar
REMARCAR_COUNT=300
ONLY=${BENCH_ONLY:-}
case $SOAK_SECS in '' | *[!0-9]*) echo "bench: BENCH_SOAK_SECS must be a whole number of seconds" >&2; exit 2 ;; esac

die() { echo "bench: FATAL: $*" >&2; exit 1; }
section() { printf '\n=== %s ===\n' "$*"; }
# want PHASE: whether BENCH_ONLY (empty = everything) names PHASE.
want() { [ -z "$ONLY" ] || [[ ",$ONLY," == *",$1,"* ]]; }

# ---------------------------------------------------------------------------------------------
section "machine"
echo "date:      $(date -Is)"
echo "nproc:     $(nproc)"
echo "cpu:       $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
echo "memory:    $(awk '/MemTotal/ {printf "%.1f GiB", $2/1048576}' /proc/meminfo)"
echo "kernel:    $(uname -sr)"
echo "load avg:  $(cut -d' ' -f1-3 /proc/loadavg)"
echo "rustc:     $(rustc --version 2>/dev/null || echo '?')"
echo "commit:    $(git rev-parse --short HEAD 2>/dev/null || echo 'none')$(git diff --quiet HEAD -- src 2>/dev/null || echo ' (+ uncommitted changes in src/)')"

# ---------------------------------------------------------------------------------------------
section "build"
if [ "${BENCH_SKIP_BUILD:-0}" != 1 ]; then
    # Phase identidade compares with the same code built without audit entries: build that
    # first and keep a copy, then the real build (only this crate is compiled twice).
    if [[ ",${BENCH_ONLY:-}," == *,identidade,* ]] && [ -z "${BENCH_BIN_SEM_TRILHA:-}" ]; then
        mkdir -p "$ROOT/target/bench"
        cargo build --release --bin agendamento --features bench-sem-trilha &&
            cp "$ROOT/target/release/agendamento" "$ROOT/target/bench/agendamento-sem-trilha" ||
            die "cargo build --release --features bench-sem-trilha failed"
        BENCH_BIN_SEM_TRILHA=$ROOT/target/bench/agendamento-sem-trilha
    fi
    cargo build --release --bin agendamento --example loadgen || die "cargo build --release failed"
fi
[ -x "$BIN" ] || die "$BIN missing"
[ -x "$LOADGEN" ] || die "$LOADGEN missing"

if ! command -v wrk >/dev/null 2>&1; then
    echo "wrk not found: installing the Debian package"
    if [ "$(id -u)" = 0 ]; then
        (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk) >/dev/null 2>&1 \
            || echo "bench: WARNING: could not install wrk; the GET /medicos/{id} figure will be missing"
    else
        echo "bench: WARNING: not root, cannot apt-get install wrk; the GET /medicos/{id} figure will be missing"
    fi
fi

# ---------------------------------------------------------------------------------------------
TMP=$(mktemp -d "${BENCH_TMPDIR:-/tmp}/agendamento-bench.XXXXXX") || die "mktemp failed"
DATA=$TMP/banco
RES=$TMP/results.env
STATE=$TMP/ids.json
: >"$RES"
SERVER_PID=""
SERVER_N=0

cleanup() {
    if [ -n "$SERVER_PID" ] && [ -e "/proc/$SERVER_PID" ]; then
        kill -TERM "$SERVER_PID" 2>/dev/null
        wait "$SERVER_PID" 2>/dev/null
    fi
    if [ "${BENCH_KEEP:-0}" = 1 ]; then
        echo "bench: temp folder kept: $TMP"
    else
        rm -rf "$TMP"
    fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

echo "temp folder: $TMP ($(df -T "$TMP" | awk 'NR==2 {print $2 " on " $1}'))"

put() { echo "$1=$2" >>"$RES"; }
val() { local v; v=$(grep "^$1=" "$RES" | tail -n1 | cut -d= -f2-); echo "${v:-}"; }

# Runs loadgen, shows its output indented, stores its RESULT lines.
lg() {
    local rc line
    "$LOADGEN" "$@" >"$TMP/lg.out" 2>&1
    rc=$?
    while IFS= read -r line; do
        case $line in
            RESULT\ *) echo "${line#RESULT }" >>"$RES" ;;
            *) echo "  $line" ;;
        esac
    done <"$TMP/lg.out"
    [ $rc = 0 ] || echo "  (loadgen $1 exited $rc)"
    return $rc
}

now_ns() { date +%s%N; }

# Starts the server on $DATA; sets SERVER_PID, BASE and STARTUP_MS (spawn -> "listening on" line).
start_server() {
    SERVER_N=$((SERVER_N + 1))
    local out=$TMP/server-$SERVER_N.out err=$TMP/server-$SERVER_N.err line="" t0 t1
    t0=$(now_ns)
    AGENDAMENTO_AUTH="${AGENDAMENTO_AUTH:-off}" AGENDAMENTO_BACKUP_INTERVAL_SECS=0 "$BIN" --addr 127.0.0.1:0 --data-dir "$DATA" \
        --backup-dir "$TMP/backups" --reports-dir "$TMP/reports" --logs-dir "$TMP/logs" \
        --no-demo-data ${SERVER_EXTRA:-} >"$out" 2>"$err" &
    SERVER_PID=$!
    while :; do
        line=$(grep -m1 -o 'listening on http://[0-9.]*:[0-9]*' "$out" 2>/dev/null)
        [ -n "$line" ] && break
        if ! kill -0 "$SERVER_PID" 2>/dev/null || grep -q '^State:.*Z' "/proc/$SERVER_PID/status" 2>/dev/null; then
            wait "$SERVER_PID"
            echo "bench: server exited with status $? before listening; stderr:" >&2
            tail -n 20 "$err" >&2
            SERVER_PID=""
            return 1
        fi
        if [ $(($(now_ns) - t0)) -gt 60000000000 ]; then
            echo "bench: server did not print 'listening on' within 60 s" >&2
            return 1
        fi
        sleep 0.002
    done
    t1=$(now_ns)
    STARTUP_MS=$(awk -v a="$t0" -v b="$t1" 'BEGIN {printf "%.0f", (b - a) / 1e6}')
    BASE=${line#listening on }
    case $BASE in http://127.0.0.1:*) ;; *) echo "bench: server listens on $BASE, not 127.0.0.1" >&2; return 1 ;; esac
    echo "server #$SERVER_N (pid $SERVER_PID) listening on $BASE after $STARTUP_MS ms"
}

# wrk ${WRK_ARGS[*]} on GET /medicos/{id} of the running server; stores LABEL_rps.
wrk_medico_rps() {
    command -v wrk >/dev/null 2>&1 || return 0
    local m
    m=$("$LOADGEN" show --state "$STATE" --what medico0)
    echo "  [$1] wrk ${WRK_ARGS[*]} $BASE/medicos/$m"
    timeout 60 wrk "${WRK_ARGS[@]}" "$BASE/medicos/$m" >"$TMP/wrk-$1.out" 2>&1
    put "$1_rps" "$(awk '/^Requests\/sec:/ {printf "%.0f", $2}' "$TMP/wrk-$1.out")"
    echo "  $(grep -E '^Requests/sec:' "$TMP/wrk-$1.out")"
}

rss_kib() { awk -v k="$2" '$1 == k":" {print $2}' "/proc/$1/status" 2>/dev/null; }
# proc_cpu PID: user + system CPU seconds of process PID so far (its threads included).
proc_cpu() { sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | awk '{printf "%.2f", ($12 + $13) / 100}'; }

# SIGTERM to the server we started; waits (max 120 s) and records SHUTDOWN_MS and SHUTDOWN_RC.
stop_server() {
    local t0 i=0
    [ -n "$SERVER_PID" ] || return 0
    t0=$(now_ns)
    kill -TERM "$SERVER_PID"
    while [ -e "/proc/$SERVER_PID" ] && ! grep -q '^State:.*Z' "/proc/$SERVER_PID/status" 2>/dev/null; do
        i=$((i + 1))
        if [ $i -gt 12000 ]; then
            echo "bench: server did not exit within 120 s of SIGTERM; sending SIGKILL" >&2
            kill -KILL "$SERVER_PID"
            break
        fi
        sleep 0.01
    done
    wait "$SERVER_PID"
    SHUTDOWN_RC=$?
    SHUTDOWN_MS=$(awk -v a="$t0" -v b="$(now_ns)" 'BEGIN {printf "%.0f", (b - a) / 1e6}')
    echo "server #$SERVER_N stopped by SIGTERM in $SHUTDOWN_MS ms, exit status $SHUTDOWN_RC"
    SERVER_PID=""
}

# Number of consultas stored (x-total-count of GET /consultas?limit=1).
stored() {
    "$LOADGEN" get-seq --url "$BASE/consultas?limit=1" --count 1 --warmup 0 --label n 2>/dev/null |
        sed -n 's/^RESULT n_total_count=//p'
}

# Figures shared by the table; empty when their phase is not run (BENCH_ONLY).
FSYNC="" S_SMALL="" S_BIG="" S_FINAL="" S_AFTER=""

# ---------------------------------------------------------------------------------------------
if want foundation || want sched; then
    section "1. fsync probe"
    lg fsync-probe --dir "$TMP" --secs 2 --bytes 200
    FSYNC=$(val fsync_per_s)
fi

# ---------------------------------------------------------------------------------------------
if want foundation; then
    section "2. write cost with $SMALL consultas stored"
    mkdir -p "$DATA"
    start_server || die "server did not start"
    put startup_empty_ms "$STARTUP_MS"
    lg setup --base "$BASE" --state "$STATE" --doctors "$N_DOCTORS" --patients "$N_PATIENTS" --concurrency "$FILL_CONC" ||
        die "could not create médicos/pacientes"
    K=0
    lg fill --base "$BASE" --state "$STATE" --from $K --to $SMALL --concurrency "$FILL_CONC" --label fill_small
    K=$SMALL
    S_SMALL=$(stored)
    echo "consultas stored: ${S_SMALL:-?}"
    lg post-seq --base "$BASE" --state "$STATE" --from $K --count $SEQ_POSTS --label w_small
    K=$((K + SEQ_POSTS))

    # ---------------------------------------------------------------------------------------------
    section "3. group commit: POST /consultas at concurrency $GC_CONC"
    lg post-conc --base "$BASE" --state "$STATE" --from $K --count $GC_COUNT --concurrency $GC_CONC --max-secs $GC_SECS --label gc
    K=$((K + GC_COUNT))

    # ---------------------------------------------------------------------------------------------
    section "preload to $N_CONSULTAS consultas"
    NOW=$(stored)
    NOW=${NOW:-0}
    case $NOW in '' | *[!0-9]*) NOW=0 ;; esac
    TO=$((K + N_CONSULTAS - NOW))
    [ "$TO" -ge "$K" ] || TO=$K
    lg fill --base "$BASE" --state "$STATE" --from $K --to $TO --concurrency "$FILL_CONC" --max-secs $FILL_MAX_SECS --label fill_big
    K=$TO
    sleep 2 # let any background snapshot triggered by the preload settle
    S_BIG=$(stored)
    echo "consultas stored: ${S_BIG:-?}"

    section "2b. write cost with ${S_BIG:-?} consultas stored"
    lg post-seq --base "$BASE" --state "$STATE" --from $K --count $SEQ_POSTS --label w_big
    K=$((K + SEQ_POSTS))

    # ---------------------------------------------------------------------------------------------
    section "4. reads"
    lg get-seq --url "$BASE/consultas?limit=500" --count $LIST_GETS --warmup 20 --label list500
    lg get-seq --url "$BASE/relatorios/estatisticas?de=$STATS_DE&ate=$STATS_ATE" --count $STATS_GETS --warmup 5 --label stats
    # GET /painel's first load (SPEC-2 §15): the page, then the requests its script makes.
    for p in "painel:/painel" "painel_slots:/agenda/slots?days=1" "painel_medicos:/medicos" \
        "painel_tasks:/sistema/tasks?limit=15" "painel_logs:/sistema/logs?limit=100"; do
        lg get-seq --url "$BASE${p#*:}" --count $PAINEL_GETS --warmup 5 --label "${p%%:*}"
    done

    MEDICO=$("$LOADGEN" show --state "$STATE" --what medico0)
    if command -v wrk >/dev/null 2>&1; then
        echo "  wrk ${WRK_ARGS[*]} --latency $BASE/medicos/$MEDICO"
        timeout 60 wrk "${WRK_ARGS[@]}" --latency "$BASE/medicos/$MEDICO" >"$TMP/wrk.out" 2>&1
        sed 's/^/  /' "$TMP/wrk.out"
        # wrk prints latencies as 812.00us / 1.23ms / 1.02s
        to_ms() { awk '{v=$0; if (v ~ /us$/) {sub(/us$/,"",v); v/=1000} else if (v ~ /ms$/) {sub(/ms$/,"",v)} else if (v ~ /s$/) {sub(/s$/,"",v); v*=1000}; printf "%.3f", v}'; }
        put wrk_rps "$(awk '/^Requests\/sec:/ {printf "%.0f", $2}' "$TMP/wrk.out")"
        put wrk_p50_ms "$(awk '$1 == "50%" {print $2}' "$TMP/wrk.out" | to_ms)"
        put wrk_p99_ms "$(awk '$1 == "99%" {print $2}' "$TMP/wrk.out" | to_ms)"
        put wrk_non2xx "$(awk '/Non-2xx or 3xx responses:/ {print $NF}' "$TMP/wrk.out")"
        put wrk_sockerr "$(grep -o 'Socket errors:.*' "$TMP/wrk.out")"
        put wrk_total "$(awk '/requests in/ {print $1}' "$TMP/wrk.out")"
    fi

    # ---------------------------------------------------------------------------------------------
    section "5. backup with ${S_BIG:-?}+ consultas stored, latency idle vs during backups"
    lg backup-load --base "$BASE" --state "$STATE" --from $K --backup-dir "$TMP/backups" \
        --idle-secs 4 --pace-ms 10 --max-backups 20 --min-samples 200 --max-secs 90
    USED=$(val backup_posts_used)
    K=$((K + ${USED:-20000}))

    # ---------------------------------------------------------------------------------------------
    section "6. report of the consultas from $REPORT_DE to $REPORT_ATE"
    lg report --base "$BASE" --pid "$SERVER_PID" --reports-dir "$TMP/reports" --de $REPORT_DE --ate $REPORT_ATE --max-secs 120

    # ---------------------------------------------------------------------------------------------
    section "7. restart with ${S_BIG:-?}+ consultas stored"
    put rss_loaded_kib "$(rss_kib "$SERVER_PID" VmRSS)"
    put hwm_loaded_kib "$(rss_kib "$SERVER_PID" VmHWM)"
    S_FINAL=$(stored)
    echo "consultas stored before restart: ${S_FINAL:-?}; server VmRSS $(val rss_loaded_kib) KiB"
    stop_server
    put shutdown_ms "$SHUTDOWN_MS"
    put shutdown_rc "$SHUTDOWN_RC"
    echo "  data folder: $(du -sh "$DATA" | cut -f1); $(ls -l "$DATA" | awk 'NR>1 {printf "%s %s B; ", $NF, $5}')"
    if start_server; then
        put startup_big_ms "$STARTUP_MS"
        put rss_start_kib "$(rss_kib "$SERVER_PID" VmRSS)"
        put hwm_start_kib "$(rss_kib "$SERVER_PID" VmHWM)"
        sleep 1
        put rss_start1s_kib "$(rss_kib "$SERVER_PID" VmRSS)"
        S_AFTER=$(stored)
        echo "consultas stored after restart: ${S_AFTER:-?}; VmRSS $(val rss_start_kib) KiB at 'listening', $(val rss_start1s_kib) KiB 1 s later (VmHWM $(val hwm_start_kib) KiB)"
        # Metrics recording on (the default) vs off (--no-metrics): the same wrk run against
        # the same restarted data, one server after the other.
        wrk_medico_rps metrics_on
        stop_server
        if SERVER_EXTRA=--no-metrics start_server; then
            wrk_medico_rps metrics_off
            stop_server
        fi
    else
        S_AFTER=""
    fi
fi

# ---------------------------------------------------------------------------------------------
if want sched; then
    # Scheduling: a second server on a fresh data folder (50 médicos working every day 00:00-23:30).
    section "8. scheduling server: setup"
    DATA=$TMP/banco2
    GRID=$TMP/grid.json
    mkdir -p "$DATA"
    SCHED_OK=0
    if start_server; then
        SCHED_PID=$SERVER_PID
        lg sched-setup --base "$BASE" --state "$GRID" --doctors "$N_DOCTORS" --patients "$N_PATIENTS" --concurrency "$FILL_CONC" && SCHED_OK=1
    fi
    if [ $SCHED_OK = 1 ]; then
        section "9. booking end to end: POST /consultas/agendar -> horario_ocupado on the SSE stream"
        # grid cells 0..9 warm-up, then BOOK_COUNT at concurrency, then BOOK_SEQ one at a time
        lg book --base "$BASE" --state "$GRID" --from 0 --count $BOOK_COUNT --concurrency $BOOK_CONC --seq $BOOK_SEQ --max-secs 120
        CELL=$((10 + BOOK_COUNT + BOOK_SEQ))

        section "10. SSE fan-out: $FANOUT subscribers, one event"
        lg sse-fanout --base "$BASE" --pid "$SCHED_PID" --medico "$(val fanout_medico)" --slot "$(val fanout_slot)" \
            --subscribers $FANOUT --connect-conc 256 --connect-secs 120 --wait-secs 30

        section "11. GET /agenda/slots?days=30 with $SLOTS_CONSULTAS on-grid consultas stored"
        lg sched-fill --base "$BASE" --state "$GRID" --from $CELL --to $((CELL + SLOTS_CONSULTAS)) --concurrency "$FILL_CONC" --max-secs 600 --label sched_fill
        put slots_stored "$(stored)"
        lg slots --base "$BASE" --days 30 --count $SLOTS_GETS --warmup 10 --max-secs 120
        put rss_sched_kib "$(rss_kib "$SERVER_PID" VmRSS)"
    else
        echo "bench: the scheduling server could not be set up; its figures are missing"
    fi
    stop_server
fi

# ---------------------------------------------------------------------------------------------
# GET /agenda/slots with blocks (SPEC-2 §11): its own server, the same 50 doctors and on-grid
# consultas as phase 11, plus SLOTS_BLOCKS one-hour blocks over the 30 days.
if want bloqueios; then
    section "11b. GET /agenda/slots?days=30 with $SLOTS_CONSULTAS consultas and $SLOTS_BLOCKS bloqueios stored"
    DATA=$TMP/banco-bloqueios
    mkdir -p "$DATA"
    if start_server; then
        if lg sched-setup --base "$BASE" --state "$TMP/grid-bloqueios.json" --doctors "$N_DOCTORS" --patients "$N_PATIENTS" --concurrency "$FILL_CONC" &&
            lg sched-fill --base "$BASE" --state "$TMP/grid-bloqueios.json" --from 0 --to "$SLOTS_CONSULTAS" --concurrency "$FILL_CONC" --max-secs 600 --label blk_fill &&
            lg sched-blocks --base "$BASE" --state "$TMP/grid-bloqueios.json" --count "$SLOTS_BLOCKS" --days 30 --concurrency "$FILL_CONC"; then
            put blk_stored "$(stored)"
            lg slots --base "$BASE" --days 30 --count $SLOTS_GETS --warmup 10 --max-secs 120 --label slots_blk
        fi
        stop_server
    else
        echo "bench: the blocks server did not start; its figures are missing"
    fi
fi

# Moving appointments (SPEC-2 §11): a fresh server with REMARCAR_STORED on-grid consultas.
if want remarcar; then
    section "13. POST /consultas/{id}/remarcar with $REMARCAR_STORED consultas stored"
    DATA=$TMP/banco4
    mkdir -p "$DATA"
    if start_server; then
        if lg sched-setup --base "$BASE" --state "$TMP/remarcar-grid.json" --doctors "$N_DOCTORS" --patients "$N_PATIENTS" --concurrency "$FILL_CONC"; then
            lg sched-fill --base "$BASE" --state "$TMP/remarcar-grid.json" --from 0 --to "$REMARCAR_STORED" --concurrency "$FILL_CONC" --max-secs 900 --label remarcar_fill
            put remarcar_stored "$(stored)"
            lg remarcar --base "$BASE" --state "$TMP/remarcar-grid.json" --filled "$REMARCAR_STORED" --count $REMARCAR_COUNT --warmup 20 --max-secs 120
        fi
        stop_server
    else
        echo "bench: the remarcar server did not start; its figure is missing"
    fi
fi

# ---------------------------------------------------------------------------------------------
# Memory soak: a third server on a fresh data folder (automatic backups off, as for the others:
# the soak queues its own backups and reports).
if want soak && [ "$SOAK_SECS" -gt 0 ]; then
    section "12. memory soak: $SOAK_SECS s of mixed load"
    DATA=$TMP/banco3
    mkdir -p "$DATA"
    if start_server; then
        if lg sched-setup --base "$BASE" --state "$TMP/soak-grid.json" --doctors $SOAK_DOCTORS --patients $SOAK_PATIENTS --concurrency 8; then
            lg soak --base "$BASE" --state "$TMP/soak-grid.json" --pid "$SERVER_PID" --secs "$SOAK_SECS" \
                --workers "$SOAK_WORKERS" --rate "$SOAK_RATE" --subscribers 3 --sample-secs 5 \
                --backup-every 60 --report-every 120 --prime $SOAK_PRIME --mix "$SOAK_MIX" \
                --samples-out "$TMP/soak-rss.csv"
        fi
        stop_server
        put soak_shutdown_rc "$SHUTDOWN_RC"
    else
        echo "bench: the soak server did not start; its figures are missing"
    fi
fi

# =============================================================================================
# BEGIN medidas block (issues 11 and 15): phases `identidade` and `estatisticas`, their own
# functions, data folders and table rows. Neither runs by default (BENCH_ONLY names them):
#   BENCH_ONLY=identidade [BENCH_BIN_SEM_TRILHA=<this code built with --features bench-sem-trilha>,
#     built by the build step when unset] [BENCH_BIN_SEM_IDENTIDADE=<binary built at a40fd5d>]
#   BENCH_ONLY=estatisticas BENCH_BIN_ANTES=<binary to compare with $BIN>
# Every comparison alternates the two configurations BENCH_ID_ROUNDS times (default 3) in the
# same run; each figure lists every round.
ID_ROUNDS=${BENCH_ID_ROUNDS:-3}
ID_ADMIN_EMAIL=bench-admin@bench.example
ID_ADMIN_SENHA="bench-$$-$RANDOM-$RANDOM"
ID_TOKEN=""
BIN_SEM_ID=${BENCH_BIN_SEM_IDENTIDADE:-}
BIN_SEM_TRILHA=${BENCH_BIN_SEM_TRILHA:-}
BIN_ANTES=${BENCH_BIN_ANTES:-}
case $ID_ROUNDS in '' | *[!0-9]* | 0) echo "bench: BENCH_ID_ROUNDS must be a positive whole number" >&2; exit 2 ;; esac
wanted_only() { [ -n "$ONLY" ] && want "$1"; }

# id_start on|off: start_server on $DATA with sign-in on (the bench's first administrator
# from the environment, then ID_TOKEN = its bearer token) or off (single-user mode).
id_start() {
    ID_TOKEN=""
    if [ "$1" = on ]; then
        AGENDAMENTO_AUTH=on AGENDAMENTO_ADMIN_EMAIL=$ID_ADMIN_EMAIL AGENDAMENTO_ADMIN_SENHA=$ID_ADMIN_SENHA \
            start_server || return 1
        ID_TOKEN=$("$LOADGEN" login --base "$BASE" --email "$ID_ADMIN_EMAIL" --senha "$ID_ADMIN_SENHA") ||
            { echo "bench: login as the bench administrator failed: $ID_TOKEN" >&2; return 1; }
    else
        AGENDAMENTO_AUTH=off start_server || return 1
    fi
}

# id_wrk LABEL URL: wrk ${WRK_ARGS[*]} on URL, with the bearer token when ID_TOKEN is set;
# stores LABEL_rps and LABEL_non2xx.
id_wrk() {
    command -v wrk >/dev/null 2>&1 || return 0
    local h=()
    [ -n "$ID_TOKEN" ] && h=(-H "Authorization: Bearer $ID_TOKEN")
    echo "  [$1] wrk ${WRK_ARGS[*]}${ID_TOKEN:+ -H 'Authorization: Bearer …'} $2"
    timeout 60 wrk "${WRK_ARGS[@]}" "${h[@]}" "$2" >"$TMP/wrk-$1.out" 2>&1
    put "$1_rps" "$(awk '/^Requests\/sec:/ {printf "%.0f", $2}' "$TMP/wrk-$1.out")"
    put "$1_non2xx" "$(awk '/Non-2xx or 3xx responses:/ {print $NF}' "$TMP/wrk-$1.out")"
    echo "  $(grep -E '^Requests/sec:' "$TMP/wrk-$1.out")$(grep -E 'Non-2xx' "$TMP/wrk-$1.out" | sed 's/^ */, /')"
}

# ratios P1 P2 SUFFIX: RATIOS = "a / b = r" for each round's values P1_<i>SUFFIX /
# P2_<i>SUFFIX, and MEDIAN_RATIO (not through $(...): a subshell would lose it).
ratios() {
    local i a b r out="" rs=""
    for i in $(seq 1 "$ID_ROUNDS"); do
        a=$(val "$1_$i$3"); b=$(val "$2_$i$3")
        r=$(awk -v a="$a" -v b="$b" 'BEGIN { if (a == "" || b == "" || b == 0) print "?"; else printf "%.2f", a / b }')
        out="$out${out:+; }$a / $b = $r"
        [ "$r" != "?" ] && rs="$rs $r"
    done
    MEDIAN_RATIO=$(echo "$rs" | tr ' ' '\n' | sed '/^$/d' | sort -g | awk '{v[NR] = $1} END { if (NR == 0) print ""; else if (NR % 2) print v[(NR + 1) / 2]; else printf "%.2f", (v[NR / 2] + v[NR / 2 + 1]) / 2 }')
    RATIOS=$out
}

if wanted_only identidade; then
    section "13. identity (issue 11): bearer vs --auth off, login storm, POST /consultas with the audit trail"
    DATA=$TMP/banco-id
    ID_STATE=$TMP/id-ids.json
    mkdir -p "$DATA"
    if id_start on && LOADGEN_BEARER=$ID_TOKEN lg setup --base "$BASE" --state "$ID_STATE" \
        --doctors "$N_DOCTORS" --patients "$N_PATIENTS" --concurrency "$FILL_CONC"; then
        ID_MEDICO=$("$LOADGEN" show --state "$ID_STATE" --what medico0)
        stop_server
        # (a) the same data, one server after the other: sign-in on (bearer) / off.
        for i in $(seq 1 "$ID_ROUNDS"); do
            id_start on && id_wrk "id_bearer_$i" "$BASE/medicos/$ID_MEDICO"
            stop_server
            id_start off && id_wrk "id_off_$i" "$BASE/medicos/$ID_MEDICO"
            stop_server
        done
        # (b) 50 concurrent logins, alternating with idle windows, while GET /medicos/{id} is probed.
        if id_start on; then
            for i in $(seq 1 "$ID_ROUNDS"); do
                LOADGEN_BEARER=$ID_TOKEN lg login-storm --base "$BASE" --url "$BASE/medicos/$ID_MEDICO" \
                    --email "$ID_ADMIN_EMAIL" --senha "$ID_ADMIN_SENHA" --logins 50 --rounds 3 --idle-secs 2 --pace-ms 5
                for k in storm_ratio storm_idle_p99_ms storm_busy_p99_ms storm_idle_n storm_busy_n storm_logins_ok storm_errors; do
                    put "id_${k}_$i" "$(val $k)"
                done
            done
            stop_server
        fi
    else
        echo "bench: the identity server could not be set up"
        stop_server
    fi
    # (c) POST /consultas at concurrency $GC_CONC: this build (sign-in on, audit trail) vs the
    # same code without audit entries (sign-in on too: the audit entry is the only difference),
    # and vs the pre-identity build when given; each on its own data folder, alternating.
    id_gc() { # id_gc LABEL BINARY on|off: setup and rounds of one comparison
        local label=$1 bin=$2 mode=$3 da=$TMP/banco-id-$1-com db=$TMP/banco-id-$1-sem ka=0 kb=0 i
        mkdir -p "$da" "$db"
        DATA=$da; id_start on && LOADGEN_BEARER=$ID_TOKEN lg setup --base "$BASE" --state "$TMP/id-$label-com.json" \
            --doctors "$N_DOCTORS" --patients "$N_PATIENTS" --concurrency "$FILL_CONC"
        stop_server
        DATA=$db; BIN=$bin id_start "$mode" && LOADGEN_BEARER=$ID_TOKEN lg setup --base "$BASE" --state "$TMP/id-$label-sem.json" \
            --doctors "$N_DOCTORS" --patients "$N_PATIENTS" --concurrency "$FILL_CONC"
        stop_server
        for i in $(seq 1 "$ID_ROUNDS"); do
            DATA=$da
            if id_start on; then
                LOADGEN_BEARER=$ID_TOKEN lg post-conc --base "$BASE" --state "$TMP/id-$label-com.json" --from $ka \
                    --count $GC_COUNT --concurrency $GC_CONC --max-secs $GC_SECS --label "${label}_com_$i"
                ka=$((ka + GC_COUNT))
            fi
            stop_server
            DATA=$db
            if BIN=$bin id_start "$mode"; then
                LOADGEN_BEARER=$ID_TOKEN lg post-conc --base "$BASE" --state "$TMP/id-$label-sem.json" --from $kb \
                    --count $GC_COUNT --concurrency $GC_CONC --max-secs $GC_SECS --label "${label}_sem_$i"
                kb=$((kb + GC_COUNT))
            fi
            stop_server
        done
    }
    if [ -n "$BIN_SEM_TRILHA" ] && [ -x "$BIN_SEM_TRILHA" ]; then
        id_gc id_tr "$BIN_SEM_TRILHA" on
    else
        echo "bench: BENCH_BIN_SEM_TRILHA not set (or not executable): no audit-trail comparison"
    fi
    if [ -n "$BIN_SEM_ID" ] && [ -x "$BIN_SEM_ID" ]; then
        id_gc id_gc "$BIN_SEM_ID" off
    fi
fi

if wanted_only estatisticas; then
    section "14. statistics (issue 15): $BIN vs ${BIN_ANTES:-?} on the same $N_CONSULTAS consultas"
    DATA=$TMP/banco-est
    EST_STATE=$TMP/est-ids.json
    mkdir -p "$DATA"
    if [ -z "$BIN_ANTES" ] || [ ! -x "$BIN_ANTES" ]; then
        echo "bench: BENCH_BIN_ANTES not set (or not executable): nothing to compare"
    elif start_server && lg setup --base "$BASE" --state "$EST_STATE" --doctors "$N_DOCTORS" \
        --patients "$N_PATIENTS" --concurrency "$FILL_CONC" &&
        lg fill --base "$BASE" --state "$EST_STATE" --from 0 --to "$N_CONSULTAS" --concurrency "$FILL_CONC" \
            --max-secs $FILL_MAX_SECS --label est_fill; then
        put est_stored "$(stored)"
        stop_server
        EST_MED=$("$LOADGEN" show --state "$EST_STATE" --what medico0)
        EST_Q=("de=$STATS_DE&ate=$STATS_ATE" "de=$STATS_DE&ate=$STATS_ATE&medico_id=$EST_MED"
            "de=$STATS_DE&ate=$STATS_ATE&especialidade=cardiologia" "de=2024-01-03&ate=2024-01-09")
        for i in $(seq 1 "$ID_ROUNDS"); do
            for w in depois antes; do
                B=$BIN; [ $w = antes ] && B=$BIN_ANTES
                if BIN=$B start_server; then
                    lg get-seq --url "$BASE/relatorios/estatisticas?de=$STATS_DE&ate=$STATS_ATE" \
                        --count $STATS_GETS --warmup 5 --label "est_${w}_$i"
                    if [ "$i" = 1 ]; then
                        for q in "${!EST_Q[@]}"; do
                            curl -fsS "$BASE/relatorios/estatisticas?${EST_Q[$q]}" >"$TMP/est-$w-$q.json" 2>&1
                        done
                    fi
                fi
                stop_server
            done
        done
        EST_SAME=yes
        for q in "${!EST_Q[@]}"; do
            cmp -s "$TMP/est-depois-$q.json" "$TMP/est-antes-$q.json" || { EST_SAME=NO; echo "  answers differ for ?${EST_Q[$q]}"; }
        done
        put est_same "$EST_SAME"
        echo "  same answers from both builds (${#EST_Q[@]} queries: whole year, one doctor, one speciality, one week): $EST_SAME"
    else
        echo "bench: the statistics server could not be set up"
        stop_server
    fi
fi
# END medidas block
# =============================================================================================

# ---------------------------------------------------------------------------------------------
# Waiting list (SPEC-2 §11): a fourth server on a fresh data folder; one front-desk
# cancellation at a time, timed from the request to the entry's vaga_oferecida on the stream.
ESPERA_COUNT=${BENCH_ESPERA:-200}
if want espera; then
    section "13. waiting list: a freed slot -> vaga_oferecida on the SSE stream"
    DATA=$TMP/banco4
    mkdir -p "$DATA"
    if start_server; then
        if lg sched-setup --base "$BASE" --state "$TMP/espera-grid.json" --doctors 5 --patients 100 --concurrency 8; then
            lg espera --base "$BASE" --state "$TMP/espera-grid.json" --from 0 --count "$ESPERA_COUNT" --warmup 10
        fi
        stop_server
    else
        echo "bench: the waiting-list server did not start; its figure is missing"
    fi
fi

# ---------------------------------------------------------------------------------------------
# Calendars (SPEC-2 §14): a server on a fresh data folder; one doctor with CAL_CONSULTAS
# appointments every 30 minutes from 30 days ago (all inside a feed's window: the last 90 days
# and the future), then sequential GETs of that doctor's feed.
CAL_CONSULTAS=${BENCH_CAL_CONSULTAS:-5000}
CAL_GETS=200
if want calendario; then
    section "15. calendar feed: one doctor with $CAL_CONSULTAS appointments"
    DATA=$TMP/banco-cal
    mkdir -p "$DATA"
    if start_server; then
        CAL_DE=$(date -d '30 days ago' +%F)
        if lg setup --base "$BASE" --state "$TMP/cal.json" --doctors 1 --patients 200 --concurrency 8 &&
            LOADGEN_BASE_DATE=$CAL_DE lg fill --base "$BASE" --state "$TMP/cal.json" --from 0 --to "$CAL_CONSULTAS" \
                --concurrency "$FILL_CONC" --max-secs $FILL_MAX_SECS --label cal_fill; then
            CAL_MED=$("$LOADGEN" show --state "$TMP/cal.json" --what medico0)
            CAL_URL=$(curl -fsS -H 'content-type: application/json' -d "{\"medico_id\":\"$CAL_MED\"}" \
                "$BASE/calendario/token" | sed -n 's/.*"url":"\([^"]*\)".*/\1/p')
            if [ -n "$CAL_URL" ]; then
                curl -fsS "$BASE$CAL_URL" -o "$TMP/cal.ics"
                put cal_events "$(grep -c '^BEGIN:VEVENT' "$TMP/cal.ics")"
                put cal_bytes "$(wc -c <"$TMP/cal.ics")"
                lg get-seq --url "$BASE$CAL_URL" --count $CAL_GETS --warmup 20 --label cal_feed
            else
                echo "bench: POST /calendario/token gave no url; the feed figure is missing"
            fi
        fi
        stop_server
    else
        echo "bench: the calendar server did not start; its figure is missing"
    fi
fi

# The outbox (SPEC-2 §13): booking throughput with one webhook subscribed to every event (a
# local receiver) against none, on two servers with their own fresh data folders and the same
# setup (both --webhooks-rede-local; only the subscription differs), restarted for every run
# and alternating com/sem, sem/com, ... BENCH_AVISOS_ROUNDS times; each run books a fresh range
# of the grid at the same concurrency. After each run with the webhook the deliveries still
# queued are counted, then drained (not timed) so the next run starts with an empty outbox.
# A third server ("retida", same subscription) books while the receiver is stopped (SIGSTOP):
# every notification is written in its booking's durable write, but none is delivered until
# the bookings end. It separates what the outbox costs a booking from what the deliveries'
# HTTP requests (and the receiver, which stands for another machine) take of the 2 cores.
# Then 10,000 notifications queued while the delivery worker is paused (--worker-paused),
# drained after a restart, with the server's peak resident memory.
AVISOS_BOOK=${BENCH_AVISOS_BOOKINGS:-1000}
AVISOS_FILA=${BENCH_AVISOS_FILA:-10000}
AVISOS_ROUNDS=${BENCH_AVISOS_ROUNDS:-5}
case $AVISOS_ROUNDS in '' | *[!0-9]* | 0) echo "bench: BENCH_AVISOS_ROUNDS must be a positive whole number" >&2; exit 2 ;; esac
# av_count QUERY: x-total-count of GET /notificacoes?QUERY&limit=1 on the running server.
av_count() {
    "$LOADGEN" get-seq --url "$BASE/notificacoes?$1&limit=1" --count 1 --warmup 0 --label n 2>/dev/null |
        sed -n 's/^RESULT n_total_count=//p'
}
# av_run com|sem ROUND FROM: one run on that server; stores avisos_<com|sem>_<ROUND>_rps and,
# with the webhook, avisos_fila_<ROUND> (consulta.agendada deliveries still queued when the
# bookings ended) and avisos_drenar_<ROUND>_s (how long they then took).
av_run() {
    local w=$1 i=$2 from=$3 total enviadas t0 s0 s1 r0 r1
    DATA=$TMP/banco5-$w
    put book_conc_rps ""
    if SERVER_EXTRA="--webhooks-rede-local" start_server; then
        [ "$w" = retida ] && kill -STOP "$RECEPTOR_PID"
        s0=$(proc_cpu "$SERVER_PID"); r0=$(proc_cpu "$RECEPTOR_PID")
        lg book --base "$BASE" --state "$TMP/avisos-$w.json" --from "$from" --count "$AVISOS_BOOK" \
            --concurrency $BOOK_CONC --seq 10 --max-secs 120
        s1=$(proc_cpu "$SERVER_PID"); r1=$(proc_cpu "$RECEPTOR_PID")
        [ "$w" = retida ] && kill -CONT "$RECEPTOR_PID"
        put "avisos_${w}_${i}_rps" "$(val book_conc_rps)"
        echo "  [$w $i] CPU while booking: server $(awk -v a="$s0" -v b="$s1" 'BEGIN {printf "%.2f", b - a}') s, receiver $(awk -v a="$r0" -v b="$r1" 'BEGIN {printf "%.2f", b - a}') s"
        if [ "$w" != sem ]; then
            total=$(av_count evento=consulta.agendada)
            enviadas=$(av_count "evento=consulta.agendada&status=enviada")
            put "avisos_fila_${w}_$i" "$(awk -v a="$total" -v b="$enviadas" 'BEGIN { if (a == "" || b == "") print "?"; else print a - b }')"
            t0=$(now_ns)
            while [ -n "$total" ] && [ "${enviadas:-0}" -lt "$total" ] && [ $(($(now_ns) - t0)) -lt 120000000000 ]; do
                sleep 0.05
                enviadas=$(av_count "evento=consulta.agendada&status=enviada")
            done
            put "avisos_drenar_${w}_${i}_s" "$(awk -v a="$t0" -v b="$(now_ns)" 'BEGIN {printf "%.2f", (b - a) / 1e9}')"
            echo "  [$w $i] consulta.agendada: $total created, $(val "avisos_fila_${w}_$i") still queued when the bookings ended, all $enviadas delivered $(val "avisos_drenar_${w}_${i}_s") s later"
        fi
    fi
    stop_server
}
if want avisos; then
    section "14. outbox: bookings with a webhook vs none ($AVISOS_ROUNDS alternating rounds); $AVISOS_FILA deliveries drained"
    "$LOADGEN" receptor --addr-file "$TMP/receptor.addr" --max-secs 1800 >"$TMP/receptor.out" 2>&1 &
    RECEPTOR_PID=$!
    for _ in $(seq 1 500); do [ -s "$TMP/receptor.addr" ] && break; sleep 0.01; done
    RECEPTOR=$(cat "$TMP/receptor.addr" 2>/dev/null)
    AV_OK=0
    if [ -n "$RECEPTOR" ]; then
        AV_OK=1
        for w in com sem retida; do
            DATA=$TMP/banco5-$w
            mkdir -p "$DATA"
            if SERVER_EXTRA="--webhooks-rede-local" start_server &&
                lg sched-setup --base "$BASE" --state "$TMP/avisos-$w.json" --doctors "$N_DOCTORS" --patients "$N_PATIENTS" --concurrency "$FILL_CONC"; then
                [ $w != sem ] && { lg avisos-webhook --base "$BASE" --url "$RECEPTOR/gancho" || AV_OK=0; }
            else
                AV_OK=0
            fi
            stop_server
        done
    fi
    if [ $AV_OK = 1 ]; then
        # Each run uses grid cells [K, K + 10 warm-up + AVISOS_BOOK + 10 one at a time).
        AV_STEP=$((10 + AVISOS_BOOK + 10))
        for i in $(seq 1 "$AVISOS_ROUNDS"); do
            K=$(((i - 1) * AV_STEP))
            if [ $((i % 2)) = 1 ]; then
                av_run com "$i" $K; av_run sem "$i" $K; av_run retida "$i" $K
            else
                av_run retida "$i" $K; av_run sem "$i" $K; av_run com "$i" $K
            fi
        done
    else
        echo "bench: the outbox servers (or their receiver) could not be set up; the booking figure is missing"
    fi
    DATA=$TMP/banco6
    mkdir -p "$DATA"
    if [ -n "$RECEPTOR" ] && SERVER_EXTRA="--webhooks-rede-local --worker-paused" start_server; then
        if lg sched-setup --base "$BASE" --state "$TMP/avisos-fila.json" --doctors "$N_DOCTORS" --patients "$N_PATIENTS" --concurrency "$FILL_CONC"; then
            lg avisos-webhook --base "$BASE" --url "$RECEPTOR/gancho" --eventos consulta.agendada
            lg sched-fill --base "$BASE" --state "$TMP/avisos-fila.json" --from 0 --to "$AVISOS_FILA" --concurrency "$FILL_CONC" --max-secs 600 --label avisos_fill
        fi
        stop_server
        if SERVER_EXTRA="--webhooks-rede-local" start_server; then
            lg avisos-drenar --base "$BASE" --pid "$SERVER_PID" --count "$AVISOS_FILA" --max-secs 300
            stop_server
        fi
    fi
    # The receiver stands for another machine; here it shares the 2 cores with the server.
    echo "  receiver CPU over the whole phase: $(proc_cpu "$RECEPTOR_PID") s"
    kill -TERM "$RECEPTOR_PID" 2>/dev/null
    wait "$RECEPTOR_PID" 2>/dev/null
    grep -h '^receptor:' "$TMP/receptor.out" | sed 's/^/  /'
fi

# ---------------------------------------------------------------------------------------------
# Several instances on one PostgreSQL (SPEC-2 §16; runs only when BENCH_ONLY names
# `instancias`): a throwaway PostgreSQL cluster (Debian's binaries, BENCH_PG_BIN), a fresh
# database per measurement, instances of $BIN with --database-url, each on its own data folder.
# Bookings end to end with 1, 2 and 3 instances (BOOK_CONC per instance) next to the embedded
# store, propagation from one instance to another, failover of the worker instance, and
# memory per instance with INST_MEM consultas next to the embedded store.
INST_PG_BIN=${BENCH_PG_BIN:-/usr/lib/postgresql/15/bin}
INST_BOOK=${BENCH_INST_BOOKINGS:-3000}     # bookings per instance and configuration
INST_PROP=${BENCH_INST_PROPAGACAO:-300}    # holds written on #1, watched on #2
INST_MEM=${BENCH_INST_CONSULTAS:-100000}   # consultas stored for the memory figure
INST_NS=${BENCH_INST_INSTANCIAS:-1 2 3}    # the instance counts measured (propagation and failover need 3)
INST_PGDIR=""
INST_PG_PID=""
INST_PGURL=""
INST_PIDS=()
INST_BASES=()
INST_ERRS=()
INST_DB=0

# Runs a PostgreSQL program as the cluster's owner (initdb refuses root).
inst_pg() {
    if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi
}

# Stops every instance this phase started (by PID), then the cluster, and removes its folder.
inst_cleanup() {
    inst_stop_all
    if [ -n "$INST_PGDIR" ]; then
        inst_pg "$INST_PG_BIN/pg_ctl" -D "$INST_PGDIR/data" -m fast -w stop >/dev/null 2>&1
        rm -rf "$INST_PGDIR"
        INST_PGDIR=""
    fi
}

# Starts the throwaway cluster on a free port; sets INST_PGURL's host part and INST_PG_PID.
inst_pg_start() {
    local port i
    [ -x "$INST_PG_BIN/initdb" ] || { echo "bench: $INST_PG_BIN/initdb missing (BENCH_PG_BIN)" >&2; return 1; }
    INST_PGDIR=$(mktemp -d "${BENCH_TMPDIR:-/tmp}/agendamento-pg.XXXXXX") || return 1
    [ "$(id -u)" = 0 ] && chown postgres: "$INST_PGDIR"
    inst_pg "$INST_PG_BIN/initdb" -D "$INST_PGDIR/data" -A trust -U postgres -E UTF8 --locale=C.UTF-8 \
        >"$TMP/pg-initdb.out" 2>&1 || { tail -n 5 "$TMP/pg-initdb.out" >&2; return 1; }
    for i in $(seq 1 50); do
        port=$((20000 + RANDOM % 20000))
        ss -ltn 2>/dev/null | awk '{print $4}' | grep -q ":$port\$" || break
    done
    inst_pg "$INST_PG_BIN/pg_ctl" -D "$INST_PGDIR/data" -l "$INST_PGDIR/postgres.log" \
        -o "-c listen_addresses=127.0.0.1 -p $port -k $INST_PGDIR/data -c fsync=on -c max_connections=300" \
        -w start >/dev/null || { tail -n 5 "$INST_PGDIR/postgres.log" >&2; return 1; }
    INST_PG_PID=$(head -n1 "$INST_PGDIR/data/postmaster.pid")
    INST_PGPORT=$port
    echo "PostgreSQL $("$INST_PG_BIN/postgres" --version | awk '{print $3}') (pid $INST_PG_PID) on 127.0.0.1:$port, data in $INST_PGDIR (fsync on, synchronous_commit on)"
}

# A fresh database; sets INST_PGURL.
inst_db() {
    INST_DB=$((INST_DB + 1))
    inst_pg "$INST_PG_BIN/createdb" -h 127.0.0.1 -p "$INST_PGPORT" -U postgres "bench$INST_DB" || return 1
    INST_PGURL="postgres://postgres@127.0.0.1:$INST_PGPORT/bench$INST_DB"
}

# inst_start K: instance K (1-based) on $INST_PGURL, its own data folder; sets INST_PIDS[K-1],
# INST_BASES[K-1], INST_ERRS[K-1].
inst_start() {
    local k=$1 dir=$TMP/inst-$INST_DB-$1 line="" t0
    mkdir -p "$dir"
    AGENDAMENTO_BACKUP_INTERVAL_SECS=0 "$BIN" --auth off --no-demo-data --addr 127.0.0.1:0 --data-dir "$dir/banco" \
        --backup-dir "$dir/backups" --reports-dir "$dir/reports" --logs-dir "$dir/logs" \
        --database-url "$INST_PGURL" >"$dir/out" 2>"$dir/err" &
    INST_PIDS[$((k - 1))]=$!
    INST_ERRS[$((k - 1))]=$dir/err
    t0=$(now_ns)
    while :; do
        line=$(grep -m1 -o 'listening on http://[0-9.]*:[0-9]*' "$dir/out" 2>/dev/null)
        [ -n "$line" ] && break
        if ! kill -0 "${INST_PIDS[$((k - 1))]}" 2>/dev/null; then
            echo "bench: instance #$k exited before listening; stderr:" >&2
            tail -n 10 "$dir/err" >&2
            return 1
        fi
        [ $(($(now_ns) - t0)) -gt 60000000000 ] && { echo "bench: instance #$k not listening within 60 s" >&2; return 1; }
        sleep 0.01
    done
    INST_BASES[$((k - 1))]=${line#listening on }
    echo "instance #$k (pid ${INST_PIDS[$((k - 1))]}) listening on ${INST_BASES[$((k - 1))]}"
}

# The 1-based number of the instance that logged it leads (waits up to 10 s); empty if none.
inst_leader() {
    local i k
    for i in $(seq 1 1000); do
        for k in "${!INST_ERRS[@]}"; do
            if [ -e "/proc/${INST_PIDS[$k]}" ] && grep -q 'this instance leads' "${INST_ERRS[$k]}" 2>/dev/null; then
                echo $((k + 1))
                return 0
            fi
        done
        sleep 0.01
    done
}

# SIGTERM to every running instance; waits for them.
inst_stop_all() {
    local p
    for p in "${INST_PIDS[@]}"; do
        [ -n "$p" ] && [ -e "/proc/$p" ] && kill -TERM "$p" 2>/dev/null
    done
    for p in "${INST_PIDS[@]}"; do
        [ -n "$p" ] && wait "$p" 2>/dev/null
    done
    INST_PIDS=()
    INST_BASES=()
}

# Waits (max 30 s) until every running instance answers the same x-posicao as #1.
inst_caught_up() {
    local i k p1 pk same
    for i in $(seq 1 300); do
        p1=$(curl -fsS -o /dev/null -D - "${INST_BASES[0]}/sistema/saude" | awk -F': ' 'tolower($1) == "x-posicao" {print $2+0}')
        same=1
        for k in "${!INST_BASES[@]}"; do
            pk=$(curl -fsS -o /dev/null -D - "${INST_BASES[$k]}/sistema/saude" | awk -F': ' 'tolower($1) == "x-posicao" {print $2+0}')
            [ "$pk" = "$p1" ] || same=0
        done
        [ $same = 1 ] && { echo "  every instance at position $p1"; return 0; }
        sleep 0.1
    done
    echo "  instances not at the same position after 30 s"
    return 1
}

if wanted_only instancias; then
    section "16. several instances on one PostgreSQL (SPEC-2 §16)"
    trap 'inst_cleanup; cleanup' EXIT
    # The instances inherit it: `false` makes each append its own writes (the comparison).
    echo "writes through an instance that does not lead forwarded to the leader: ${AGENDAMENTO_ENCAMINHAR_ESCRITAS:-true}"
    # (a) the embedded store, for comparison: bookings, then memory with INST_MEM consultas.
    DATA=$TMP/banco-inst-emb
    mkdir -p "$DATA"
    if start_server; then
        if lg sched-setup --base "$BASE" --state "$TMP/inst-emb.json" --doctors "$N_DOCTORS" --patients "$N_PATIENTS" --concurrency "$FILL_CONC"; then
            lg multi-book --bases "$BASE" --state "$TMP/inst-emb.json" --from 0 --count "$INST_BOOK" \
                --concurrency $BOOK_CONC --max-secs 120 --label inst_emb --pids "$SERVER_PID"
        fi
        stop_server
    fi
    DATA=$TMP/banco-inst-emb-mem
    mkdir -p "$DATA"
    if start_server; then
        if lg sched-setup --base "$BASE" --state "$TMP/inst-emb-mem.json" --doctors "$N_DOCTORS" --patients "$N_PATIENTS" --concurrency "$FILL_CONC"; then
            lg sched-fill --base "$BASE" --state "$TMP/inst-emb-mem.json" --from 0 --to "$INST_MEM" --concurrency "$FILL_CONC" --max-secs 900 --label inst_emb_fill
            sleep 2
            put inst_emb_stored "$(stored)"
            put inst_emb_rss_kib "$(rss_kib "$SERVER_PID" VmRSS)"
            put inst_emb_hwm_kib "$(rss_kib "$SERVER_PID" VmHWM)"
            echo "  embedded store with $(val inst_emb_stored) consultas: VmRSS $(val inst_emb_rss_kib) KiB, VmHWM $(val inst_emb_hwm_kib) KiB"
        fi
        stop_server
        rm -rf "$TMP/banco-inst-emb" "$TMP/banco-inst-emb-mem"
    fi
    if inst_pg_start; then
        # (b) bookings with 1, 2, 3 instances, each on a fresh database.
        for n in $INST_NS; do
            echo "-- $n instance(s)"
            inst_db || break
            up=1
            for k in $(seq 1 $n); do inst_start "$k" || up=0; done
            L=$(inst_leader)
            echo "  leader: #${L:-none}"
            if [ $up = 1 ] && lg sched-setup --base "${INST_BASES[0]}" --state "$TMP/inst-$n.json" --doctors "$N_DOCTORS" \
                --patients "$N_PATIENTS" --concurrency "$FILL_CONC"; then
                inst_caught_up
                lg multi-book --bases "$(IFS=,; echo "${INST_BASES[*]}")" --state "$TMP/inst-$n.json" --from 0 \
                    --count $((INST_BOOK * n)) --concurrency $BOOK_CONC --max-secs 120 --label "inst_pg$n" \
                    --pids "$(IFS=,; echo "${INST_PIDS[*]}")" --pg-pid "$INST_PG_PID"
                put "inst_pg${n}_leader" "${L:-?}"
                put "inst_pg${n}_reloads" "$(cat "$TMP"/inst-"$INST_DB"-*/err | grep -c 'reloading the whole state')"
                C=$((10 * n + INST_BOOK * n + 100))
                if [ $n = 3 ]; then
                    # (c) propagation #1 -> #2, on the quiet cluster.
                    inst_caught_up
                    lg propagacao --write "${INST_BASES[0]}" --read "${INST_BASES[1]}" --state "$TMP/inst-$n.json" \
                        --from "$C" --count "$INST_PROP" --pace-ms 20 --label inst_prop
                    C=$((C + INST_PROP + 10))
                    # (d) failover: SIGKILL to the leader, a booking on another instance.
                    if [ -n "$L" ]; then
                        O=$(( L % n + 1 ))
                        lg failover --leader "${INST_BASES[$((L - 1))]}" --other "${INST_BASES[$((O - 1))]}" \
                            --kill-pid "${INST_PIDS[$((L - 1))]}" --state "$TMP/inst-$n.json" --cell "$C" --max-secs 30 --label inst_failover
                        wait "${INST_PIDS[$((L - 1))]}" 2>/dev/null
                        L2=$(inst_leader)
                        echo "  new leader: #${L2:-none} (instance #$L was killed; #$O got the booking)"
                    fi
                fi
            fi
            inst_stop_all
        done
        # (e) memory: INST_MEM consultas through #1 with #2 following.
        echo "-- memory with $INST_MEM consultas, 2 instances"
        if inst_db && inst_start 1 && inst_start 2 &&
            lg sched-setup --base "${INST_BASES[0]}" --state "$TMP/inst-mem.json" --doctors "$N_DOCTORS" \
                --patients "$N_PATIENTS" --concurrency "$FILL_CONC"; then
            lg sched-fill --base "${INST_BASES[0]}" --state "$TMP/inst-mem.json" --from 0 --to "$INST_MEM" \
                --concurrency "$FILL_CONC" --max-secs 900 --label inst_pg_fill
            inst_caught_up
            sleep 2
            BASE=${INST_BASES[1]}
            put inst_pg_stored "$(stored)"
            put inst_pg_reloads2 "$(grep -c 'reloading the whole state' "${INST_ERRS[1]}")"
            for k in 1 2; do
                put "inst_pg_rss${k}_kib" "$(rss_kib "${INST_PIDS[$((k - 1))]}" VmRSS)"
                put "inst_pg_hwm${k}_kib" "$(rss_kib "${INST_PIDS[$((k - 1))]}" VmHWM)"
                echo "  instance #$k with $(val inst_pg_stored) consultas: VmRSS $(val "inst_pg_rss${k}_kib") KiB, VmHWM $(val "inst_pg_hwm${k}_kib") KiB"
            done
            echo "  PostgreSQL: $(inst_pg "$INST_PG_BIN/psql" -h 127.0.0.1 -p "$INST_PGPORT" -U postgres -d "bench$INST_DB" -Atc \
                "SELECT 'journal rows ' || (SELECT count(*) FROM agendamento_journal) || ', consultas rows ' || (SELECT count(*) FROM consultas) || ', database ' || pg_size_pretty(pg_database_size(current_database()))" 2>&1)"
        fi
        inst_stop_all
        for k in "$TMP"/inst-*/err; do
            n=$(grep -ciE 'warn|error|panic' "$k")
            echo "  $(basename "$(dirname "$k")") stderr: $(wc -l <"$k") lines, $n mentioning warn/error/panic, $(grep -c 'reloading the whole state' "$k") whole-state reloads"
            grep -iE 'panic|error' "$k" | head -n 3 | cut -c1-300 | sed 's/^/    /'
        done
    else
        echo "bench: PostgreSQL could not be started; the instancias figures are missing"
    fi
    inst_cleanup
fi

# ---------------------------------------------------------------------------------------------
# Server-side problems worth reporting
section "server stderr (warnings and errors)"
for f in "$TMP"/server-*.err; do
    n=$(grep -ciE 'warn|error|panic' "$f")
    echo "  $(basename "$f"): $(wc -l <"$f") lines, $n mentioning warn/error/panic"
    grep -iE 'panic|error' "$f" | head -n 5 | cut -c1-300 | sed 's/^/    /'
done

# ---------------------------------------------------------------------------------------------
f1() { awk -v x="$1" 'BEGIN { if (x == "") print "?"; else printf "%.1f", x }'; }
f2() { awk -v x="$1" 'BEGIN { if (x == "") print "?"; else printf "%.2f", x }'; }
# ok LHS OP RHS -> yes / NO / ?
ok() { awk -v a="$1" -v b="$3" -v op="$2" 'BEGIN {
    if (a == "" || b == "" || a == "?" || b == "?" || a == "nan") { print "?"; exit }
    r = (op == "<=") ? (a <= b) : (op == "<") ? (a < b) : (op == ">=") ? (a >= b) : (a == b);
    print r ? "yes" : "NO" }'; }
mib() { awk -v k="$1" 'BEGIN { if (k == "") print "?"; else printf "%.1f MiB", k / 1024 }'; }

WS50=$(val w_small_p50_ms); WB50=$(val w_big_p50_ms)
RATIO=$(awk -v a="$WB50" -v b="$WS50" 'BEGIN { if (a == "" || b == "" || b == 0) print ""; else printf "%.2f", a / b }')
GC_RPS=$(val gc_ok_rps)
GC_TARGET=$(awk -v f="$FSYNC" 'BEGIN { if (f == "") print ""; else printf "%.0f", 2 * f }')
GC_X=$(awk -v a="$GC_RPS" -v f="$FSYNC" 'BEGIN { if (a == "" || f == "" || f == 0) print "?"; else printf "%.2f", a / f }')
ERRS=0
for k in fill_small_errors w_small_errors gc_errors fill_big_errors w_big_errors list500_errors \
    backup_probe_errors book_warmup_errors book_conc_errors book_seq_errors sched_fill_errors slots_errors \
    remarcar_fill_errors remarcar_errors; do
    e=$(val $k); ERRS=$((ERRS + ${e:-0}))
done
W_NON2XX=$(val wrk_non2xx)
EXPECTED_AFTER=$S_FINAL

{
echo "figure | parameters | value | target | ok?"
echo "--- | --- | --- | --- | ---"
if want foundation || want sched; then
    echo "fsync probe | 1 thread, append 200 B + fdatasync, 2 s, file in the data dir's temp folder | ${FSYNC:-?} fsyncs/s (p50 $(val fsync_p50_ms) ms) | reference for durable writes | -"
fi
if want foundation; then
    echo "POST /consultas latency, small store | ${S_SMALL:-?} stored, $(val w_small_n) sequential, 1 client | p50 $(f2 "$WS50") ms, p99 $(f2 "$(val w_small_p99_ms)") ms | - | -"
    echo "POST /consultas latency, big store | ${S_BIG:-?} stored, $(val w_big_n) sequential, 1 client | p50 $(f2 "$WB50") ms, p99 $(f2 "$(val w_big_p99_ms)") ms | - | -"
    echo "write cost growth | p50(${S_BIG:-?} stored) / p50(${S_SMALL:-?} stored) | ${RATIO:-?} | <= 1.5 | $(ok "$RATIO" '<=' 1.5)"
    echo "POST /consultas throughput (group commit) | concurrency $GC_CONC, $(val gc_n) requests (max $GC_COUNT / ${GC_SECS} s), $(val gc_ok) x 201 | $(val gc_ok_rps) req/s = ${GC_X} x fsync rate (p50 $(f2 "$(val gc_p50_ms)") ms, p99 $(f2 "$(val gc_p99_ms)") ms) | >= 2 x fsync = ${GC_TARGET:-?} req/s | $(ok "$GC_RPS" '>=' "$GC_TARGET")"
    echo "preload POST /consultas | concurrency $FILL_CONC, $(val fill_big_created) created in $(val fill_big_secs) s | $(val fill_big_rps) req/s | - | -"
    if [ -n "$(val wrk_rps)" ]; then
        echo "GET /medicos/{id} throughput | wrk ${WRK_ARGS[*]}, $(val wrk_total) requests, non-2xx ${W_NON2XX:-0}$( [ -n "$(val wrk_sockerr)" ] && echo ", $(val wrk_sockerr)") | $(val wrk_rps) req/s (p50 $(f2 "$(val wrk_p50_ms)") ms, p99 $(f2 "$(val wrk_p99_ms)") ms) | >= 20000 req/s | $(ok "$(val wrk_rps)" '>=' 20000)"
    else
        echo "GET /medicos/{id} throughput | wrk ${WRK_ARGS[*]} | not measured (no wrk) | >= 20000 req/s | ?"
    fi
    echo "GET /consultas?limit=500 latency | ${S_BIG:-?}+ stored, $(val list500_n) sequential, $(val list500_items) items per answer | p50 $(f2 "$(val list500_p50_ms)") ms, p99 $(f2 "$(val list500_p99_ms)") ms | p50 < 5 ms | $(ok "$(val list500_p50_ms)" '<' 5)"
    echo "GET /relatorios/estatisticas latency | ${S_BIG:-?}+ stored, de=$STATS_DE ate=$STATS_ATE (every consulta), $(val stats_n) sequential | p50 $(f2 "$(val stats_p50_ms)") ms, p99 $(f2 "$(val stats_p99_ms)") ms | p50 < 50 ms | $(ok "$(val stats_p50_ms)" '<' 50)"
    PAINEL_MS=$(awk -v a="$(val painel_p50_ms)" -v b="$(val painel_slots_p50_ms)" -v c="$(val painel_medicos_p50_ms)" \
        -v d="$(val painel_tasks_p50_ms)" -v e="$(val painel_logs_p50_ms)" \
        'BEGIN { if (a == "" || b == "" || c == "" || d == "" || e == "") print ""; else printf "%.3f", a + b + c + d + e }')
    echo "GET /painel first load, server time | ${N_DOCTORS} médicos, ${S_BIG:-?}+ consultas: the page + /agenda/slots?days=1, /medicos, /sistema/tasks?limit=15, /sistema/logs?limit=100, $(val painel_n) sequential each; sum of the p50s (the page fetches them in parallel) | ${PAINEL_MS:-?} ms (page $(f2 "$(val painel_p50_ms)"), slots $(f2 "$(val painel_slots_p50_ms)"), médicos $(f2 "$(val painel_medicos_p50_ms)"), tasks $(f2 "$(val painel_tasks_p50_ms)"), logs $(f2 "$(val painel_logs_p50_ms)") ms) | < 50 ms | $(ok "$PAINEL_MS" '<' 50)"
    MX=$(awk -v a="$(val metrics_on_rps)" -v b="$(val metrics_off_rps)" 'BEGIN { if (a == "" || b == "" || b == 0) print ""; else printf "%.2f", a / b }')
    echo "GET /medicos/{id} metrics on vs off | wrk ${WRK_ARGS[*]} on the restarted server, then restarted with --no-metrics | on $(val metrics_on_rps) / off $(val metrics_off_rps) req/s = ${MX:-?} | >= 0.9 | $(ok "$MX" '>=' 0.9)"
    echo "start-up, empty store | spawn -> 'listening on' | $(val startup_empty_ms) ms | - | -"
    echo "start-up, big store | ${S_FINAL:-?} consultas, spawn -> 'listening on' | $(val startup_big_ms) ms | < 1000 ms | $(ok "$(val startup_big_ms)" '<' 1000)"
    echo "memory after start-up | ${S_FINAL:-?} consultas, VmRSS at 'listening' / 1 s later (VmHWM) | $(mib "$(val rss_start_kib)") / $(mib "$(val rss_start1s_kib)") ($(mib "$(val hwm_start_kib)")) | report | -"
    echo "memory under load | before SIGTERM, VmRSS (VmHWM) | $(mib "$(val rss_loaded_kib)") ($(mib "$(val hwm_loaded_kib)")) | report | -"
    echo "graceful shutdown | SIGTERM with ${S_FINAL:-?} consultas | $(val shutdown_ms) ms, exit status $(val shutdown_rc) | exit 0 | $(ok "$(val shutdown_rc)" '==' 0)"
    echo "data kept across restart | x-total-count before / after | ${S_FINAL:-?} / ${S_AFTER:-?} | equal | $(ok "${S_AFTER:-}" '==' "${EXPECTED_AFTER:-x}")"
    # --- backups and reports
    if [ -n "$(val backup_runs)" ]; then
        echo "backup time and size | ${S_BIG:-?}+ consultas, POST /backup/executar -> task concluida (poll 20 ms); $(val backup_ok)/$(val backup_runs) backups back to back | first $(val backup_first_s) s (median $(val backup_median_s) s), $(mib "$(awk -v b="$(val backup_bytes)" 'BEGIN {print b / 1024}')") ZIP | report | $(ok "$(val backup_first_status)" '==' concluida)"
        echo "GET /medicos/{id} during backup | one request every 10 ms; p50 idle ($(val backup_get_idle_p50_ms) ms) vs during backups ($(val backup_get_busy_n) samples, $(val backup_get_busy_p50_ms) ms) | x$(val backup_get_ratio) | <= 2 | $(ok "$(val backup_get_ratio)" '<=' 2)"
        echo "POST /consultas during backup | one request every 10 ms; p50 idle ($(val backup_post_idle_p50_ms) ms) vs during backups ($(val backup_post_busy_n) samples, $(val backup_post_busy_p50_ms) ms) | x$(val backup_post_ratio) | <= 2 | $(ok "$(val backup_post_ratio)" '<=' 2)"
    else
        echo "backup | ${S_BIG:-?}+ consultas | not measured | - | ?"
    fi
    RS=$(val report_status)
    case $RS in
        concluida)
            echo "report (PDF) | $(val report_rows) consultas ($REPORT_DE..$REPORT_ATE), POST /relatorios/gerar -> task concluida; $(awk -v b="$(val report_bytes)" 'BEGIN {printf "%.0f KiB", b / 1024}') PDF | $(val report_s) s, server memory +$(mib "$(val report_mem_delta_kib)") (peak VmRSS sampled every 20 ms) | < 2 s | $(ok "$(val report_s)" '<' 2)" ;;
        nao_implementado | no_route)
            echo "report (PDF) | $(val report_rows) consultas ($REPORT_DE..$REPORT_ATE) | not available ($RS) | < 2 s | -" ;;
        *)
            echo "report (PDF) | $(val report_rows) consultas ($REPORT_DE..$REPORT_ATE) | task ${RS:-not run} $(val report_code) after $(val report_s) s | < 2 s | NO" ;;
    esac
fi
if want sched; then
    # --- scheduling server
    if [ -n "$(val book_conc_rps)" ]; then
        BK_X=$(awk -v a="$(val book_conc_rps)" -v f="$FSYNC" 'BEGIN { if (a == "" || f == "" || f == 0) print "?"; else printf "%.2f", a / f }')
        echo "booking throughput, end to end | $(val book_conc_sent) POST /consultas/agendar at concurrency $BOOK_CONC, each until its horario_ocupado arrives on one SSE stream; $(val book_conc_ok) seen | $(val book_conc_rps) bookings/s = ${BK_X} x fsync rate (p50 $(f2 "$(val book_conc_p50_ms)") ms, p99 $(f2 "$(val book_conc_p99_ms)") ms) | >= 1 x fsync = ${FSYNC:-?}/s | $(ok "$(val book_conc_rps)" '>=' "$FSYNC")"
        echo "booking latency, one at a time | $(val book_seq_n) sequential, request -> horario_ocupado on the stream | p50 $(f2 "$(val book_seq_p50_ms)") ms, p99 $(f2 "$(val book_seq_p99_ms)") ms | p50 < 10 ms | $(ok "$(val book_seq_p50_ms)" '<' 10)"
        BK_BAD=$(awk -v a="$(val book_tasks_falhou)" -v b="$(val book_409)" -v c="$(val book_timeouts)" -v d="$(val book_tasks_unfinished)" -v e="$(val book_conc_ok)" -v f="$(val book_conc_sent)" \
            'BEGIN { if (a == "" || b == "" || c == "" || d == "") print "?"; else print a + b + c + d + (f - e) }')
        echo "booking outcomes | $(val book_total) bookings: tasks concluida / falhou / unfinished, 409s, events not seen in 30 s | $(val book_tasks_concluida) / $(val book_tasks_falhou) / $(val book_tasks_unfinished), $(val book_409) x 409, $(val book_timeouts) not seen | all concluida, 0 | $(ok "$BK_BAD" '==' 0)"
    else
        echo "booking end to end | scheduling server | not measured | - | ?"
    fi
    if [ -n "$(val fanout_connected)" ]; then
        echo "SSE fan-out memory | $(val fanout_connected)/$(val fanout_n) idle subscribers on /sistema/agenda/stream (connected in $(val fanout_connect_s) s), server VmRSS before -> after | $(mib "$(val fanout_rss0_kib)") -> $(mib "$(val fanout_rss1_kib)"): $(val fanout_per_sub_kib) KiB per subscriber | report | -"
        echo "SSE fan-out delay | 1 event (POST /agenda/reservar) to $(val fanout_connected) subscribers: request -> event received | p50 $(val fanout_p50_ms) ms, p99 $(val fanout_p99_ms) ms, max $(val fanout_max_ms) ms | p99 < 250 ms | $(ok "$(val fanout_p99_ms)" '<' 250)"
        echo "SSE fan-out delivery | subscribers that received the event | $(val fanout_received) / $(val fanout_n) | all | $(ok "$(val fanout_received)" '==' "$(val fanout_n)")"
    else
        echo "SSE fan-out | $FANOUT subscribers | not measured | - | ?"
    fi
    if [ -n "$(val slots_p50_ms)" ]; then
        echo "GET /agenda/slots?days=30 | $(val slots_doctors) médicos x 30 days = $(val slots_total) slots ($(val slots_ocupado) ocupado), $(val slots_stored) consultas stored, $(val slots_n) sequential; answer $(mib "$(awk -v b="$(val slots_bytes)" 'BEGIN {print b / 1024}')") | p50 $(f2 "$(val slots_p50_ms)") ms, p99 $(f2 "$(val slots_p99_ms)") ms | p50 < 20 ms | $(ok "$(val slots_p50_ms)" '<' 20)"
        echo "preload on-grid POST /consultas | concurrency $FILL_CONC, $(val sched_fill_created) created in $(val sched_fill_secs) s | $(val sched_fill_rps) req/s | - | -"
    else
        echo "GET /agenda/slots?days=30 | $SLOTS_CONSULTAS consultas | not measured | p50 < 20 ms | ?"
    fi
fi
if want bloqueios; then
    if [ -n "$(val slots_blk_p50_ms)" ]; then
        echo "GET /agenda/slots?days=30 with blocks | $(val slots_blk_doctors) médicos x 30 days, $(val blk_stored) consultas and $(val blocks_created) one-hour bloqueios stored: $(val slots_blk_total) slots listed ($(val slots_blk_ocupado) ocupado), $(val slots_blk_n) sequential; answer $(mib "$(awk -v b="$(val slots_blk_bytes)" 'BEGIN {print b / 1024}')"); failed requests $(val slots_blk_errors) | p50 $(f2 "$(val slots_blk_p50_ms)") ms, p99 $(f2 "$(val slots_blk_p99_ms)") ms | p50 < 20 ms | $(ok "$(val slots_blk_p50_ms)" '<' 20)"
    else
        echo "GET /agenda/slots?days=30 with blocks | $SLOTS_CONSULTAS consultas, $SLOTS_BLOCKS bloqueios | not measured | p50 < 20 ms | ?"
    fi
fi
if want remarcar; then
    if [ -n "$(val remarcar_p50_ms)" ]; then
        echo "POST /consultas/{id}/remarcar | $(val remarcar_stored) consultas stored (50 médicos, on the grid), $(val remarcar_n) sequential moves to a free slot of the same doctor, 1 client | p50 $(f2 "$(val remarcar_p50_ms)") ms, p99 $(f2 "$(val remarcar_p99_ms)") ms | p50 < 1 ms | $(ok "$(val remarcar_p50_ms)" '<' 1)"
    else
        echo "POST /consultas/{id}/remarcar | $REMARCAR_STORED consultas | not measured | p50 < 1 ms | ?"
    fi
fi
if want foundation || want sched || want remarcar; then
    echo "failed requests | all loadgen phases (non-2xx or transport) | $ERRS | 0 | $(ok "$ERRS" '==' 0)"
fi
if want soak && [ "$SOAK_SECS" -gt 0 ]; then
    if [ -n "$(val soak_rss_end_kib)" ]; then
        SOAK_GROWTH=$(awk -v a="$(val soak_rss_end_kib)" -v b="$(val soak_rss_warm_kib)" 'BEGIN { if (b == "" || b == 0) print "?"; else printf "%+.1f MiB (%+.1f%%)", (a - b) / 1024, (a - b) * 100 / b }')
        echo "memory soak | $(val soak_secs) s mixed load ($(val soak_workers) workers <= $(val soak_rate) req/s, $(val soak_subscribers) SSE readers, backups $(val soak_backups), reports $(val soak_reports) concluida; $(val soak_prime) bookings primed first); VmRSS every 5 s, warm-up $(val soak_warmup_secs) s | start $(mib "$(val soak_rss_start_kib)") / after warm-up $(mib "$(val soak_rss_warm_kib)") / end $(mib "$(val soak_rss_end_kib)") / max $(mib "$(val soak_rss_max_kib)"); end - warm-up $SOAK_GROWTH; slope after warm-up $(val soak_slope_mib_min) MiB/min; second half $(mib "$(val soak_rss_half_kib)") -> end, $(val soak_slope_half_mib_min) MiB/min | end <= after warm-up +10% and +20 MiB ($(mib "$(val soak_rss_limit_kib)")) | $(ok "$(val soak_rss_end_kib)" '<=' "$(val soak_rss_limit_kib)")"
        SOAK_BAD=$(awk -v a="$(val soak_5xx)" -v b="$(val soak_transport)" 'BEGIN { if (a == "" || b == "") print "?"; else print a + b }')
        echo "soak requests | $(val soak_requests) requests; by status $(val soak_statuses); $(val soak_409) x 409; unexpected answers $(val soak_errors); SSE $(val soak_sse_events) events, $(val soak_sse_reconnects) reconnects | $(val soak_rps) req/s; 5xx + transport errors: $SOAK_BAD | no 5xx | $(ok "$SOAK_BAD" '==' 0)"
        echo "soak data set | pacientes / consultas / tasks stored at start, after warm-up, at end | $(val soak_counts_start), $(val soak_counts_warm), $(val soak_counts_end) | constant (tasks: capped at 10,000 finished + the last minute's) | -"
        echo "soak server shutdown | SIGTERM after the soak | exit status $(val soak_shutdown_rc) | exit 0 | $(ok "$(val soak_shutdown_rc)" '==' 0)"
    else
        echo "memory soak | $SOAK_SECS s | not measured | end <= after warm-up +10% and +20 MiB | ?"
    fi
fi
# --- BEGIN medidas rows (phases identidade, estatisticas)
if wanted_only identidade; then
    ratios id_bearer id_off _rps
    echo "GET /medicos/{id}, bearer token vs --auth off | wrk ${WRK_ARGS[*]}, same data, restarted between runs, alternating $ID_ROUNDS x (bearer / off req/s = ratio) | $RATIOS; median ${MEDIAN_RATIO:-?} | >= 0.8 | $(ok "$MEDIAN_RATIO" '>=' 0.8)"
    S=""; SR=""
    for i in $(seq 1 "$ID_ROUNDS"); do
        S="$S${S:+; }x$(val "id_storm_ratio_$i") (idle p99 $(val "id_storm_idle_p99_ms_$i") ms, $(val "id_storm_idle_n_$i") samples / storm p99 $(val "id_storm_busy_p99_ms_$i") ms, $(val "id_storm_busy_n_$i"))"
        SR="$SR $(val "id_storm_ratio_$i")"
    done
    SM=$(echo "$SR" | tr ' ' '\n' | sed '/^$/d' | sort -g | awk '{v[NR] = $1} END { if (NR == 0) print ""; else if (NR % 2) print v[(NR + 1) / 2]; else printf "%.2f", (v[NR / 2] + v[NR / 2 + 1]) / 2 }')
    echo "login storm: other requests' p99 | $ID_ROUNDS runs of 3 x (2 s idle, 50 concurrent POST /auth/login from 50 loopback addresses); GET /medicos/{id} with a bearer every 5 ms throughout | $S; median x${SM:-?} | <= 2 x idle p99 | $(ok "$SM" '<=' 2)"
    if [ -n "$BIN_SEM_TRILHA" ]; then
        ratios id_tr_com id_tr_sem _ok_rps
        echo "POST /consultas throughput, audit trail / without | concurrency $GC_CONC, $GC_COUNT requests or ${GC_SECS} s, sign-in on (bearer) in both; this build / the same code built with --features bench-sem-trilha (no audit entry), alternating $ID_ROUNDS x | $RATIOS; median ${MEDIAN_RATIO:-?} | >= 0.9 | $(ok "$MEDIAN_RATIO" '>=' 0.9)"
    fi
    if [ -n "$BIN_SEM_ID" ]; then
        ratios id_gc_com id_gc_sem _ok_rps
        echo "POST /consultas throughput, audit trail vs pre-identity build | concurrency $GC_CONC, $GC_COUNT requests or ${GC_SECS} s, this build (sign-in on: bearer + audit entry in the same write) / $BIN_SEM_ID, alternating $ID_ROUNDS x | $RATIOS; median ${MEDIAN_RATIO:-?} | >= 0.9 | $(ok "$MEDIAN_RATIO" '>=' 0.9)"
    fi
fi
if wanted_only estatisticas && [ -n "$(val est_same)" ]; then
    E=""
    for i in $(seq 1 "$ID_ROUNDS"); do
        E="$E${E:+; }$(f2 "$(val "est_depois_${i}_p50_ms")") / $(f2 "$(val "est_antes_${i}_p50_ms")")"
    done
    EM=$(for i in $(seq 1 "$ID_ROUNDS"); do val "est_depois_${i}_p50_ms"; done | sort -g | awk '{v[NR] = $1} END { if (NR == 0) print ""; else if (NR % 2) print v[(NR + 1) / 2]; else print (v[NR / 2] + v[NR / 2 + 1]) / 2 }')
    echo "GET /relatorios/estatisticas p50, this build / BENCH_BIN_ANTES | $(val est_stored) consultas, de=$STATS_DE ate=$STATS_ATE, $STATS_GETS sequential, alternating $ID_ROUNDS x; answers identical: $(val est_same) | $E ms; median $(f2 "$EM") ms | p50 < 50 ms | $(ok "$EM" '<' 50)"
fi
# --- END medidas rows
if want espera; then
    if [ -n "$(val espera_p50_ms)" ]; then
        echo "waiting list: freed slot -> offer | $(val espera_n) sequential front-desk cancellations (PUT status cancelada), each matching one waiting entry: request -> its vaga_oferecida on the stream | p50 $(f2 "$(val espera_p50_ms)") ms, p99 $(f2 "$(val espera_p99_ms)") ms | p50 < 50 ms | $(ok "$(val espera_p50_ms)" '<' 50)"
    else
        echo "waiting list: freed slot -> offer | $ESPERA_COUNT cancellations | not measured | p50 < 50 ms | ?"
    fi
fi
if want calendario; then
    if [ -n "$(val cal_feed_p50_ms)" ]; then
        echo "GET /calendario/medico/{id}.ics | 1 médico, $(val cal_events) appointments in the feed (of $CAL_CONSULTAS stored, every 30 min from 30 days ago), $(val cal_feed_n) sequential; answer $(mib "$(awk -v b="$(val cal_bytes)" 'BEGIN {print b / 1024}')"); failed requests $(val cal_feed_errors) | p50 $(f2 "$(val cal_feed_p50_ms)") ms, p99 $(f2 "$(val cal_feed_p99_ms)") ms | p50 < 50 ms | $(ok "$(val cal_feed_p50_ms)" '<' 50)"
    else
        echo "GET /calendario/medico/{id}.ics | $CAL_CONSULTAS appointments | not measured | p50 < 50 ms | ?"
    fi
fi
# av_fila com|retida: AV_FILA, each round's deliveries still queued on that server when its
# bookings ended, with how long they then took to drain.
av_fila() {
    local i
    AV_FILA=""
    for i in $(seq 1 "$AVISOS_ROUNDS"); do AV_FILA="$AV_FILA${AV_FILA:+, }$(val "avisos_fila_$1_$i") ($(val "avisos_drenar_$1_${i}_s") s)"; done
}
if want avisos; then
    # ratios (medidas block) counts ID_ROUNDS rounds: here AVISOS_ROUNDS, for this call only.
    ID_ROUNDS=$AVISOS_ROUNDS ratios avisos_com avisos_sem _rps
    av_fila com
    echo "booking throughput with one webhook (every event, local receiver) / none | $AVISOS_BOOK POST /consultas/agendar at concurrency $BOOK_CONC per run, two servers (fresh data, same setup), restarted for every run, alternating $AVISOS_ROUNDS x (com / sem bookings/s = ratio); deliveries still queued after each webhook run (drained in) $AV_FILA | $RATIOS; median ${MEDIAN_RATIO:-?} | >= 0.9 x | $(ok "$MEDIAN_RATIO" '>=' 0.9)"
    ID_ROUNDS=$AVISOS_ROUNDS ratios avisos_retida avisos_sem _rps
    av_fila retida
    echo "booking throughput with the outbox written but no delivery while booking (same webhook, receiver stopped) / none | the same runs, a third server (retida) in each round; deliveries queued when the bookings ended (drained in, receiver resumed) $AV_FILA | $RATIOS; median ${MEDIAN_RATIO:-?} | (what the outbox itself costs) | -"
    echo "outbox drain after a restart | $(val avisos_drain_n) of $AVISOS_FILA queued webhook deliveries (local receiver, 200), peak server RSS $(val avisos_drain_rss_mib) MiB, falhou $(val avisos_drain_falhou) | $(val avisos_drain_rps)/s in $(val avisos_drain_secs) s | >= 500/s | $(ok "$(val avisos_drain_rps)" '>=' 500)"
fi
if wanted_only instancias; then
    for n in emb pg1 pg2 pg3; do
        [ -n "$(val "inst_${n}_rps")" ] || { echo "bookings end to end ($n) | - | not measured | - | ?"; continue; }
        CPU="instance CPU $(for k in 1 2 3; do v=$(val "inst_${n}_cpu${k}_pct"); [ -n "$v" ] && printf '#%s %s%% ' "$k" "$v"; done)"
        if [ $n = emb ]; then
            WHAT="embedded store (no --database-url), 1 server"; TARGET="reference"; OK="-"
        else
            L=$(val "inst_${n}_leader")
            WHAT="${n#pg} instance(s) on PostgreSQL (leader #$L: $(val "inst_${n}_appends${L}_per_s") appends/s of $(val "inst_${n}_append${L}_ms") ms), PostgreSQL CPU $(val "inst_${n}_cpu_pg_pct")%, journal $(val "inst_${n}_journal_per_s") entries/s, whole-state reloads $(val "inst_${n}_reloads")"
            TARGET=">= 2000/s"; OK=$(ok "$(val "inst_${n}_rps")" '>=' 2000)
        fi
        BAD=$(awk -v a="$(val "inst_${n}_falhou")" -v b="$(val "inst_${n}_409")" -v c="$(val "inst_${n}_timeouts")" -v d="$(val "inst_${n}_unfinished")" -v e="$(val "inst_${n}_errors")" \
            'BEGIN { if (a == "" || b == "" || c == "" || d == "") print "?"; else print a + b + c + d + e }')
        echo "bookings end to end, $WHAT | $(val "inst_${n}_sent") POST /consultas/agendar, concurrency $BOOK_CONC per instance, each until its horario_ocupado on its own instance's stream; ${CPU% }; failed/409/unseen/unfinished: $BAD | $(val "inst_${n}_rps") bookings/s (p50 $(f2 "$(val "inst_${n}_p50_ms")") ms, p99 $(f2 "$(val "inst_${n}_p99_ms")") ms) | $TARGET | $OK"
    done
    if [ -n "$(val inst_prop_n)" ]; then
        echo "propagation #1 -> #2 (PostgreSQL) | $(val inst_prop_n) POST /agenda/reservar on #1 one at a time ($(val inst_prop_missed) not seen in 5 s): #1's 2xx -> horario_reservado on #2's stream | p50 $(f2 "$(val inst_prop_p50_ms)") ms, p99 $(f2 "$(val inst_prop_p99_ms)") ms, max $(f2 "$(val inst_prop_max_ms)") ms | p99 < 100 ms | $(ok "$(val inst_prop_p99_ms)" '<' 100)"
    else
        echo "propagation #1 -> #2 (PostgreSQL) | - | not measured | p99 < 100 ms | ?"
    fi
    if [ -n "$(val inst_failover_secs)" ]; then
        FO_OK=$(ok "$(val inst_failover_secs)" '<' 5); [ "$(val inst_failover_status)" = concluida ] || FO_OK=NO
        echo "failover (PostgreSQL, 3 instances) | SIGKILL to the leader, then POST /consultas/agendar on another instance: signal -> its task $(val inst_failover_status) | $(val inst_failover_secs) s | < 5 s | $FO_OK"
    else
        echo "failover (PostgreSQL, 3 instances) | - | not measured | < 5 s | ?"
    fi
    echo "memory, embedded store | $(val inst_emb_stored) consultas (sched-fill at concurrency $FILL_CONC: $(val inst_emb_fill_rps) req/s), VmRSS (VmHWM) | $(mib "$(val inst_emb_rss_kib)") ($(mib "$(val inst_emb_hwm_kib)")) | report | -"
    echo "memory per instance, PostgreSQL | $(val inst_pg_stored) consultas written through #1 (sched-fill at concurrency $FILL_CONC: $(val inst_pg_fill_rps) req/s), #2 following ($(val inst_pg_reloads2) whole-state reloads on #2); VmRSS (VmHWM) | #1 $(mib "$(val inst_pg_rss1_kib)") ($(mib "$(val inst_pg_hwm1_kib)")), #2 $(mib "$(val inst_pg_rss2_kib)") ($(mib "$(val inst_pg_hwm2_kib)")) | report | -"
fi
} >"$TMP/table.md"

section "RESULTS"
echo "load avg at end: $(cut -d' ' -f1-3 /proc/loadavg) (a high load at start or end means other work shared the 2 cores)"
column -t -s '|' -o '|' "$TMP/table.md" 2>/dev/null || cat "$TMP/table.md"
