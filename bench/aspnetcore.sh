#!/usr/bin/env bash
# bench/aspnetcore.sh: an ASP.NET Core minimal API app on ShardRuntime (ShardRuntime.AspNetCore's UseShardRuntime)
# against the same app on plain Kestrel: throughput, and what a load generator sees while the app changes code.
#
# The app is tests/Fixtures/AspNetCoreApp (GET / answers 200 "OK", Content-Length 2): `AspNetCoreApp SOCKET --port N
# --shards N` accepts from ShardRuntime's sharded reuseport sockets (with EnableUpgrade and a control socket);
# `--plain` is the same app on plain Kestrel (one socket of its own).
#
# 1. Installs what it needs from Debian when missing (wrk, python3, iproute2), builds Release: tests/Fixtures/
#    AspNetCoreApp, src/Host (the `shardruntime upgrade` command) and bench/LoadGen.
# 2. Throughput, in rounds (the two servers take turns, the order rotated by one each round; each turn starts the app
#    afresh on a free loopback port, tracked by PID, waits for all its listening sockets and a 200, warms it up, and
#    ends it by PID):
#      sr      the app on ShardRuntime, --shards = cores
#      plain   the app --plain (Kestrel's own socket)
#    ka     wrk -t2 -c32 keep-alive: requests/s and latency
#    churn  the same with -H 'Connection: close': a new connection per request
#    with the server's CPU time per request (from /proc) and wrk's (the shell's `times`): they share the cores.
# 3. Changes under load: bench/LoadGen (--mode both: churn at --rate new connections/s, plus --connections keep-alive
#    connections) against the app on ShardRuntime while `shardruntime upgrade --control-socket SOCKET` runs --changes
#    times, --interval seconds apart (each successor, named by the command's "successor pid N", is tracked by PID and
#    ended by it); the load starts 2 s before the first upgrade and stops (SIGINT) 3 s after the last. Then the same
#    load against the app --plain, stopped (SIGTERM, waiting for it to exit) and started again on the same port at the
#    same moments after the load's start as the upgrades were (a restart is the only way plain Kestrel changes code),
#    and stopped after the same total time. The load generator's counts (failed: refused, reset, closed, timed out,
#    wrong reply, other) for each, apart for churn and keep-alive.
# 4. Prints the tables, the ratio ShardRuntime / plain Kestrel against issue 17's target (keep-alive requests/s
#    >= 1.0x), and rewrites the aspnetcore section of docs/benchmarks.md (through bench/benchdoc.py).
#
# Usage: bench/aspnetcore.sh [--rounds N] [--duration S] [--quick] [--keep] [--changes N] [--interval S]
#                            [--rate N] [--connections N]
#   --rounds N       throughput rounds (default 3; --quick: 2)
#   --duration S     seconds per throughput measurement (default 10; --quick: 2)
#   --quick          a short trial: 2 rounds, 2 s measurements, 1 s warm-ups, 3 changes; its section says so
#   --keep           keep the temporary directory (raw JSON, wrk and load generator outputs, app logs)
#   --changes N      upgrades (ShardRuntime) and restarts (plain Kestrel) under load (default 10; --quick: 3)
#   --interval S     seconds between the end of one upgrade and the start of the next (default 2)
#   --rate N         the load generator's new connections per second (churn; default 500)
#   --connections N  the load generator's keep-alive connections (default 4; closed-loop, one request in flight each)
set -euo pipefail

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }

QUICK=0
KEEP=0
ROUNDS=""
DURATION=""
CHANGES=""
INTERVAL=2
RATE=500
LOAD_CONNECTIONS=4
ARGS=("$@")
positive() { [[ $# -ge 2 && "$2" =~ ^[1-9][0-9]*$ ]] || { echo "$1 needs a positive whole number" >&2; exit 2; }; }
while (($#)); do
  case "$1" in
    --rounds) positive "$@"; ROUNDS=$2; shift ;;
    --duration) [[ $# -ge 2 && "$2" =~ ^[1-9][0-9]*$ && "$2" -le 600 ]] || { echo "--duration needs whole seconds from 1 to 600" >&2; exit 2; }
                DURATION=$2; shift ;;
    --changes) positive "$@"; CHANGES=$2; shift ;;
    --interval) positive "$@"; INTERVAL=$2; shift ;;
    --rate) positive "$@"; RATE=$2; shift ;;
    --connections) positive "$@"; LOAD_CONNECTIONS=$2; shift ;;
    --quick) QUICK=1 ;;
    --keep) KEEP=1 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "unknown option: $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done

if ((QUICK)); then
  ROUNDS=${ROUNDS:-2}; DURATION=${DURATION:-2}; CHANGES=${CHANGES:-3}; WARMUP=1
else
  ROUNDS=${ROUNDS:-3}; DURATION=${DURATION:-10}; CHANGES=${CHANGES:-10}; WARMUP=5
fi
SERVERS=(sr plain)
CONNECTIONS=32       # wrk -c
WRK_TIMEOUT=5s       # wrk: a reply later than this counts as a timeout error
LOAD_TIMEOUT=15s     # the load generator: a connect or reply later than this counts as timed out
START_TIMEOUT=60     # seconds: the longest wait for the app to listen and answer
STOP_GRACE=30        # seconds between SIGTERM and SIGKILL (the app drains for up to 10 s)
DRAIN_WAIT=30        # seconds: the longest wait for the app's connections to go after a measurement
UPGRADE_TIMEOUT=180  # seconds: the longest `shardruntime upgrade` may take (it returns after the stability period)

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
HELPER="$ROOT/bench/aspnetcore/report.py"
PEERS_HELPER="$ROOT/bench/peers/report.py"   # freeport, http-ready, wrk-record
TLS_HELPER="$ROOT/bench/tls/report.py"       # cpu
LUA="$ROOT/bench/peers/wrk.lua"
DOCS="$ROOT/docs/benchmarks.md"
PY=/usr/bin/python3
STARTED=$SECONDS
LOADAVG_START=$(cut -d' ' -f1 /proc/loadavg)

log() { printf '[aspnetcore %4ds] %s\n' "$((SECONDS - STARTED))" "$*"; }
die() { printf 'aspnetcore: %s\n' "$*" >&2; exit 1; }

# --- What the script needs ------------------------------------------------------------------------------------------
missing=()
command -v wrk >/dev/null || missing+=(wrk)
[[ -x $PY ]] || missing+=(python3)
command -v ss >/dev/null || missing+=(iproute2)
command -v timeout >/dev/null || missing+=(coreutils)
if ((${#missing[@]})); then
  [[ $(id -u) -eq 0 ]] || die "missing ${missing[*]}; install them (apt-get install -y ${missing[*]}) or run as root"
  log "installing from Debian: ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
command -v dotnet >/dev/null || die "the .NET 10 SDK (dotnet) is not installed; see README.md"

# Commit of what is measured: docs/benchmarks.md is this script's output, so it does not make the tree dirty.
if COMMIT=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null); then
  [[ -z $(git -C "$ROOT" status --porcelain -- . ':(exclude)docs/benchmarks.md' 2>/dev/null) ]] || COMMIT+="-dirty"
else
  COMMIT=unknown
fi

NOFILE=$(ulimit -Hn)
if [[ $NOFILE == unlimited || $NOFILE -gt 65536 ]]; then NOFILE=65536; fi
NPROC=$(nproc)

# --- Temporary directory and process tracking -----------------------------------------------------------------------
WORK=$(mktemp -d -t shardruntime-aspnetcore.XXXXXX)
mkdir -p "$WORK/raw"
OK=0
source "$ROOT/bench/procs.sh"   # PIDS, track, untrack, alive, stop_pid, wait_sockets, bounded, stop_server, established, drained, snap, client_cpu

cleanup() {
  local rc=$? pid
  set +e
  trap - EXIT INT TERM
  [[ -n ${LOAD_PID:-} ]] && stop_pid "$LOAD_PID" 10
  for pid in "${PIDS[@]}"; do stop_pid "$pid" 10; done
  if ((OK && !KEEP)); then
    rm -rf "$WORK"
  else
    echo "aspnetcore: raw JSON, wrk and load generator outputs and app logs kept in $WORK" >&2
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- Build ----------------------------------------------------------------------------------------------------------
APP_DLL=tests/Fixtures/AspNetCoreApp/bin/Release/net10.0/AspNetCoreApp.dll
HOST_DLL=src/Host/bin/Release/net10.0/shardruntime.dll
LOADGEN=bench/LoadGen/bin/Release/net10.0/shardruntime-loadgen
for project in tests/Fixtures/AspNetCoreApp src/Host bench/LoadGen; do
  log "building $project (Release)"
  dotnet build -c Release "$project" >"$WORK/build.log" 2>&1 || { tail -30 "$WORK/build.log" >&2; die "dotnet build -c Release $project failed"; }
done
[[ -f $APP_DLL && -f $HOST_DLL && -x $LOADGEN ]] || die "build output missing: $APP_DLL, $HOST_DLL, $LOADGEN"

# --- The app --------------------------------------------------------------------------------------------------------
SERVER=""
SERVER_PID=""
SERVER_DIR=""
PORT=""

now_ms() { date +%s%3N; }

# launch NAME: the app as SERVER on PORT in SERVER_DIR (its log appended to, so that a restarted app keeps one log);
# returns once the kernel lists all its listening sockets and GET / answers 200.
launch() {
  local sockets flags=()
  if [[ $1 == sr ]]; then sockets=$NPROC; flags=(--shards "$NPROC"); else sockets=1; flags=(--plain); fi
  (ulimit -n "$NOFILE" && exec dotnet "$APP_DLL" "$SERVER_DIR/control.sock" --port "$PORT" "${flags[@]}") >>"$SERVER_DIR/server.log" 2>&1 &
  SERVER_PID=$!; track "$SERVER_PID"
  wait_sockets tcp "$PORT" "$sockets" "$START_TIMEOUT" "$SERVER_PID" \
    || { tail -20 "$SERVER_DIR/server.log" >&2; die "$1: not $sockets listening sockets on port $PORT within ${START_TIMEOUT} s"; }
  $PY "$PEERS_HELPER" http-ready "$PORT" / "$START_TIMEOUT" >/dev/null \
    || { tail -20 "$SERVER_DIR/server.log" >&2; die "$1: GET / on port $PORT does not answer 200 (above: its log)"; }
}

# start_server NAME DIR: on a fresh free port in its own directory.
start_server() {
  SERVER=$1
  SERVER_DIR="$WORK/$2"
  mkdir -p "$SERVER_DIR"
  PORT=$($PY "$PEERS_HELPER" freeport 1)
  launch "$1"
}

# --- Throughput -----------------------------------------------------------------------------------------------------
wrk_run() { # OUT SECONDS [wrk options]
  local out=$1 seconds=$2
  shift 2
  bounded timeout -k 5 $((seconds + 30)) wrk -t2 -c"$CONNECTIONS" -d"${seconds}s" --latency --timeout "$WRK_TIMEOUT" \
    -s "$LUA" "$@" "http://127.0.0.1:$PORT/" >"$out" 2>&1 || die "wrk failed (exit $?) against $SERVER; see $out"
}

cpu() { $PY "$TLS_HELPER" cpu "$SERVER_PID"; }

# measure ROUND POSITION SCENARIO(ka|churn)
measure() {
  local base="$WORK/raw/r$1-$SERVER-$3" cpu0 cpu1 extra=()
  [[ $3 == churn ]] && extra=(-H "Connection: close")
  cpu0=$(cpu); snap "$base.t0"
  PEERS_COUNT_CLOSE=$([[ $3 == churn ]] && echo 1 || echo 0) wrk_run "$base.wrk" "$DURATION" "${extra[@]}"
  snap "$base.t1"; cpu1=$(cpu)
  $PY "$PEERS_HELPER" wrk-record "$base.wrk" "$base.json" "server=$SERVER" "scenario=$3" "round=$1" "position=$2" \
    "connections=$CONNECTIONS" "cpu_s=$($PY -c "print(round($cpu1 - $cpu0, 2))")" \
    "client_cpu_s=$(client_cpu "$base.t0" "$base.t1")"
  log "  $3: $($PY "$HELPER" line "$base.json")"
  alive "$SERVER_PID" || die "$SERVER exited during $3; see its log in $SERVER_DIR"
  drained
}

ORDERS=()
for ((r = 1; r <= ROUNDS; r++)); do
  rotated order "$r" "${SERVERS[@]}"
  ORDERS+=("round $r: ${order[*]}")
  log "round $r of $ROUNDS: ${order[*]}"
  pos=0
  for server in "${order[@]}"; do
    pos=$((pos + 1))
    start_server "$server" "$server-r$r"
    log "$server (PID $SERVER_PID) on port $PORT: warm-up ${WARMUP} s keep-alive, ${WARMUP} s churn"
    wrk_run "$WORK/raw/r$r-$server-warmup.txt" "$WARMUP"
    wrk_run "$WORK/raw/r$r-$server-warmup-churn.txt" "$WARMUP" -H 'Connection: close'
    drained
    measure "$r" "$pos" ka
    measure "$r" "$pos" churn
    stop_server
  done
done

# --- Changes under load ---------------------------------------------------------------------------------------------
LOAD_PID=""
LOAD_T0=0
# load_start NAME: the load generator against PORT until load_stop (bounded at 1 h by --duration). Job control on
# while it starts: a background job of a non-interactive shell ignores SIGINT, which ends the load.
load_start() {
  set -m
  "$LOADGEN" --target "127.0.0.1:$PORT" --mode both --protocol http --rate "$RATE" --max-in-flight "$RATE" \
    --connections "$LOAD_CONNECTIONS" --pipeline 1 --timeout "$LOAD_TIMEOUT" --duration 1h \
    --json "$WORK/raw/changes-$1.loadgen.json" >"$WORK/raw/changes-$1.txt" 2>&1 &
  LOAD_PID=$!
  set +m
  track "$LOAD_PID"
  LOAD_T0=$(now_ms)
}
# load_stop NAME: SIGINT, then (bounded) its summary.
load_stop() {
  local i
  kill -INT "$LOAD_PID" 2>/dev/null || true
  for ((i = 0; i < 600; i++)); do alive "$LOAD_PID" || break; sleep 0.1; done
  alive "$LOAD_PID" && die "the load generator did not end within 60 s of SIGINT; see $WORK/raw/changes-$1.txt"
  wait "$LOAD_PID" || true   # its summary below says whether it ran
  untrack "$LOAD_PID"; LOAD_PID=""
  [[ -s $WORK/raw/changes-$1.loadgen.json ]] || die "the load generator wrote no summary against $1; see $WORK/raw/changes-$1.txt"
}
sleep_until() { # MS after the load's start
  local wait_ms=$(($1 - ($(now_ms) - LOAD_T0)))
  ((wait_ms > 0)) && sleep "$(printf '%d.%03d' $((wait_ms / 1000)) $((wait_ms % 1000)))"
  return 0
}

EVENTS="$WORK/raw/changes-events.tsv"   # server, change, at_ms (after the load's start), took_ms, pid, note
: >"$EVENTS"
AT_MS=()

# ShardRuntime: upgrades. Each successor is started by its predecessor (not this script's child): tracked by the pid
# the command names, and ended by it at the end; the predecessors drain and exit by themselves.
start_server sr changes-sr
log "changes under load: ShardRuntime (PID $SERVER_PID, port $PORT): load generator --mode both --rate $RATE --connections $LOAD_CONNECTIONS; $CHANGES upgrade(s), ${INTERVAL} s apart"
UPGRADED_PIDS=("$SERVER_PID")
load_start sr
sleep 2
for ((i = 1; i <= CHANGES; i++)); do
  ((i == 1)) || sleep "$INTERVAL"
  at=$(($(now_ms) - LOAD_T0))
  out=$(timeout -k 5 "$UPGRADE_TIMEOUT" dotnet "$HOST_DLL" upgrade --control-socket "$SERVER_DIR/control.sock" 2>&1) \
    || { echo "$out" >&2; tail -30 "$SERVER_DIR/server.log" >&2; die "upgrade $i failed (above: the command's output and the app's log)"; }
  took=$(($(now_ms) - LOAD_T0 - at))
  successor=$(sed -n 's/.*successor pid \([0-9][0-9]*\).*/\1/p' <<<"$out" | head -1)
  [[ -n $successor ]] || die "upgrade $i: no \"successor pid N\" in the command's output: $out"
  track "$successor"
  UPGRADED_PIDS+=("$successor")
  SERVER_PID=$successor
  AT_MS+=("$at")
  printf 'sr\t%d\t%d\t%d\t%d\t%s\n' "$i" "$at" "$took" "$successor" "$(head -1 <<<"$out")" >>"$EVENTS"
  log "  upgrade $i at $((at / 1000)) s: $(head -1 <<<"$out") ($took ms)"
done
sleep 3
TOTAL_MS=$(($(now_ms) - LOAD_T0))
load_stop sr
log "  $($PY "$HELPER" loadgen-line "$WORK/raw/changes-sr.loadgen.json")"
# The predecessors let Kestrel finish and exit by themselves (after the stability period and the drain).
EXITED=0
for pid in "${UPGRADED_PIDS[@]:0:${#UPGRADED_PIDS[@]}-1}"; do
  for ((j = 0; j < STOP_GRACE * 10; j++)); do alive "$pid" || break; sleep 0.1; done
  if alive "$pid"; then log "  predecessor PID $pid still running ${STOP_GRACE} s after the load ended"; else EXITED=$((EXITED + 1)); fi
done
PREDECESSORS_EXITED="$EXITED of $((${#UPGRADED_PIDS[@]} - 1))"
for pid in "${UPGRADED_PIDS[@]}"; do stop_pid "$pid" "$STOP_GRACE"; untrack "$pid"; done
SERVER_PID=""

# Plain Kestrel: stopped and started again on the same port at the same moments after the load's start.
start_server plain changes-plain
log "changes under load: plain Kestrel (PID $SERVER_PID, port $PORT): the same load; $CHANGES restart(s) at the upgrades' moments"
load_start plain
for ((i = 1; i <= CHANGES; i++)); do
  sleep_until "${AT_MS[i - 1]}"
  at=$(($(now_ms) - LOAD_T0))
  old=$SERVER_PID
  stop_server
  stopped=$(($(now_ms) - LOAD_T0 - at))
  launch plain
  took=$(($(now_ms) - LOAD_T0 - at))
  printf 'plain\t%d\t%d\t%d\t%d\t%s\n' "$i" "$at" "$took" "$SERVER_PID" "PID $old exited $stopped ms after SIGTERM; PID $SERVER_PID listening and answering $took ms after it" >>"$EVENTS"
  log "  restart $i at $((at / 1000)) s: PID $old exited $stopped ms after SIGTERM, PID $SERVER_PID answers $took ms after it"
done
sleep_until "$TOTAL_MS"
load_stop plain
log "  $($PY "$HELPER" loadgen-line "$WORK/raw/changes-plain.loadgen.json")"
stop_server

# --- Report ---------------------------------------------------------------------------------------------------------
ELAPSED=$((SECONDS - STARTED))
meta() { printf '%s\t%s\n' "$1" "$2" >>"$WORK/meta.tsv"; }
: >"$WORK/meta.tsv"
meta command "bench/aspnetcore.sh${ARGS[*]:+ ${ARGS[*]}}"
meta date "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
meta commit "$COMMIT"
meta quick "$QUICK"
$PY "$ROOT/bench/benchdoc.py" machine >>"$WORK/meta.tsv"   # nproc, cpu, memory, kernel, dotnet
meta loadavg "$LOADAVG_START at the start, $(cut -d' ' -f1 /proc/loadavg) at the end"
meta wrk "$(wrk -v 2>&1 | head -1 | awk '{print $2}')"
meta rounds "$ROUNDS"
meta duration "$DURATION"
meta warmup "$WARMUP"
meta connections "$CONNECTIONS"
meta orders "$(IFS=';'; echo "${ORDERS[*]}" | sed 's/;/; /g')"
meta changes "$CHANGES"
meta interval "$INTERVAL"
meta rate "$RATE"
meta load_connections "$LOAD_CONNECTIONS"
meta load_timeout "$LOAD_TIMEOUT"
meta load_seconds "$((TOTAL_MS / 1000))"
meta predecessors_exited "$PREDECESSORS_EXITED"
meta elapsed "$((ELAPSED / 60)) min $((ELAPSED % 60)) s"

$PY "$HELPER" render "$WORK" "$DOCS"
log "done in $((SECONDS - STARTED)) s"
OK=1
