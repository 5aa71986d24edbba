#!/usr/bin/env bash
# bench/upgrade.sh: process upgrades of a ShardRuntime node under load, counted by the load generator.
#
# 1. Builds the host and the load generator (Release).
# 2. Starts a node (listener http, handler http-ok, --shards sockets) on a free loopback port, tracked by PID.
# 3. Runs the load generator (--mode churn|keepalive|both at --rate new connections/s) and meanwhile runs
#    `shardruntime upgrade` --upgrades times, --interval seconds apart (each successor takes over from the previous
#    one); after each it checks that the kernel still shows the same listening socket inodes (ss -ltne). The load
#    starts 2 s before the first upgrade and stops (SIGINT, at most 10 minutes) 3 s after the last.
# 4. Prints the load generator's summary (refused, reset, closed, timed out, ... counted apart) and the process
#    generations and inodes seen. Every node process is ended by its PID at the end.
#
# Usage: bench/upgrade.sh [--mode both] [--rate 1000] [--upgrades 10] [--interval 2] [--shards 2] [--keep]
set -euo pipefail

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }

MODE=both; RATE=1000; UPGRADES=10; INTERVAL=2; SHARDS=2; KEEP=0
while (($#)); do
  case "$1" in
    --mode) MODE=$2; shift ;;
    --rate) RATE=$2; shift ;;
    --upgrades) UPGRADES=$2; shift ;;
    --interval) INTERVAL=$2; shift ;;
    --shards) SHARDS=$2; shift ;;
    --keep) KEEP=1 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "unknown option: $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done
[[ "$MODE" =~ ^(churn|keepalive|both)$ ]] || { echo "--mode is churn, keepalive or both" >&2; exit 2; }
for n in "$RATE" "$UPGRADES" "$INTERVAL" "$SHARDS"; do
  [[ "$n" =~ ^[1-9][0-9]*$ ]] || { echo "numbers must be positive whole numbers, got '$n'" >&2; exit 2; }
done

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
WORK=$(mktemp -d /tmp/sr-upgrade-bench.XXXXXX)
HOST="$ROOT/src/Host/bin/Release/net10.0/shardruntime.dll"
LOADGEN="$ROOT/bench/LoadGen/bin/Release/net10.0/shardruntime-loadgen.dll"
CONTROL="$WORK/control.sock"
PIDS=()

log() { printf '[upgrade %3ds] %s\n' "$SECONDS" "$*"; }
cli() { dotnet "$HOST" "$@" --control-socket "$CONTROL"; }
status_field() { cli status --json | python3 -c "import json,sys; s=json.load(sys.stdin); print($1)"; }

cleanup() {
  for pid in "${PIDS[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${PIDS[@]}"; do
    for _ in $(seq 1 200); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$pid" 2>/dev/null || true
  done
  if ((KEEP)); then echo "kept $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

log "building (Release)"
dotnet build -c Release "$ROOT/src/Host" -v quiet -nologo >/dev/null
dotnet build -c Release "$ROOT/bench/LoadGen" -v quiet -nologo >/dev/null

cat > "$WORK/node.conf" <<EOF
shard-runtime {
  listeners { http { endpoint = "127.0.0.1:0", handler = http-ok, shards = $SHARDS } }
  shutdown.drain-timeout = 5s
}
EOF
dotnet "$HOST" run --config "$WORK/node.conf" --control-socket "$CONTROL" > "$WORK/node.log" 2>&1 &
PIDS+=($!)
for _ in $(seq 1 300); do cli status >/dev/null 2>&1 && break; sleep 0.1; done
ENDPOINT=$(status_field 's["listeners"][0]["endPoint"]')
PORT=${ENDPOINT##*:}
INODES=$(ss -ltneH "sport = :$PORT" | grep -o 'ino:[0-9]*' | sort | tr '\n' ' ')
log "node pid ${PIDS[0]} serves $ENDPOINT, listening inodes: $INODES"

log "load: $MODE at $RATE/s; $UPGRADES upgrades, ${INTERVAL}s apart"
# Job control on while it starts: a background job of a non-interactive shell ignores SIGINT, which ends the load below.
set -m
dotnet "$LOADGEN" --target "$ENDPOINT" --mode "$MODE" --rate "$RATE" --duration 10m --json "$WORK/load.json" > "$WORK/load.txt" 2>&1 &
LOAD=$!
set +m
sleep 2
for i in $(seq 1 "$UPGRADES"); do
  ((i == 1)) || sleep "$INTERVAL"
  OUT=$(cli upgrade) || { log "upgrade $i FAILED"; cli status || true; break; }
  PID=$(status_field 's["processId"]')
  PIDS+=("$PID")
  NOW=$(ss -ltneH "sport = :$PORT" | grep -o 'ino:[0-9]*' | sort | tr '\n' ' ')
  [[ "$NOW" == "$INODES" ]] && SAME="same inodes" || SAME="INODES CHANGED: $NOW"
  log "upgrade $i: $OUT ($SAME)"
done
sleep 3
kill -INT "$LOAD" 2>/dev/null || true
wait "$LOAD" || true
cat "$WORK/load.txt"
log "machine: $(nproc) cores, $(uname -r), load average $(cut -d' ' -f1-3 /proc/loadavg)"
