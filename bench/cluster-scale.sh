#!/usr/bin/env bash
# bench/cluster-scale.sh: how long a cluster-wide shard-count change (`scale http N --cluster`) takes until every
# node of a cluster serves the new count.
#
# 1. Builds the host (Release).
# 2. Starts --nodes node processes (`shardruntime run`), node i with its remoting and its listeners on 127.0.0.(10+i),
#    each tracked by PID: node 1 forms the cluster on an ephemeral remoting port that the script reads from its log,
#    the others join it as their seed. Every node serves listener http (handler http-ok, 2 shards) on its own address
#    and one free port. Waits until `status --cluster` shows every node Up, reachable and following in sync.
# 3. Makes 2 warm-up changes (not counted), then --changes shard-count changes (N = 4 2 5 3 6 1 3 2 4 ...: alternately
#    up and down, by 1 to 5). Before each it waits until every node has settled at the current count (kernel and
#    status agree, no retiring socket left) and a random 200-500 ms more; then it writes
#    {"command":"scale","listener":"http","shards":N,"cluster":true} to the control socket of node 1, 2, 3, ... in
#    turn and times, from that write, the reply and when each node serves N: scaling up, N LISTEN sockets on its
#    address:port in the kernel (a netlink sock_diag dump, as `ss -ltn` does; every 5 ms); scaling down, N accepting
#    shards in its own status (every 10 ms per node); scaling down also when the retired sockets have closed (after
#    draining their accept queues, retire-quiet-period). The nodes' logs give a cross-check by their own clock.
# 4. With --compare-notify D[,D...], does 2-3 again for each D on a new cluster whose nodes' config file sets
#    akka.cluster.distributed-data.notify-subscribers-interval = D. Every node logs its configuration at start
#    (akka.log-config-on-start), from which the script reads the distributed-data intervals actually in effect.
# 5. Prints every change and the figures (min, median, p90, max), and rewrites the cluster-scale section of
#    docs/benchmarks.md. Every node is stopped by its PID (SIGTERM, then SIGKILL after 20 s) at the end.
#
# Usage: bench/cluster-scale.sh [--changes 50] [--nodes 3] [--notify-interval D] [--compare-notify D[,D...]] [--keep]
#   --changes N          shard-count changes to time (default 50)
#   --nodes N            node processes in the cluster (default 3, at most 40)
#   --notify-interval D  set notify-subscribers-interval (e.g. 20ms) in the nodes' config file for the main series;
#                        without it the nodes run with what the host sets (100ms)
#   --compare-notify L   one more series per duration in the comma-separated list L (e.g. 100ms,20ms), each on a
#                        new cluster with notify-subscribers-interval = D in the nodes' config file
#   --keep               keep the temporary directory (node logs, JSON) even when the run succeeds
set -euo pipefail

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }

CHANGES=50
NODES=3
NOTIFY=""
COMPARE=()
KEEP=0
ARGS=("$@")
duration_re='^[1-9][0-9]*(ms|s)$'
while (($#)); do
  case "$1" in
    --changes) [[ $# -ge 2 && "$2" =~ ^[1-9][0-9]*$ ]] || { echo "--changes needs a positive whole number" >&2; exit 2; }
               CHANGES=$2; shift ;;
    --nodes) [[ $# -ge 2 && "$2" =~ ^[1-9][0-9]*$ && "$2" -le 40 ]] || { echo "--nodes needs a whole number from 1 to 40" >&2; exit 2; }
             NODES=$2; shift ;;
    --notify-interval) [[ $# -ge 2 && "$2" =~ $duration_re ]] || { echo "--notify-interval needs a duration such as 20ms" >&2; exit 2; }
                       NOTIFY=$2; shift ;;
    --compare-notify) [[ $# -ge 2 ]] || { echo "--compare-notify needs durations such as 100ms,20ms" >&2; exit 2; }
                      IFS=, read -ra COMPARE <<<"$2"
                      for d in "${COMPARE[@]}"; do [[ $d =~ $duration_re ]] || { echo "--compare-notify: '$d' is not a duration such as 20ms" >&2; exit 2; }; done
                      shift ;;
    --keep) KEEP=1 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "unknown option: $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done

START_SHARDS=2
WARMUP=2              # changes made first and not counted (the first change after start pays for JIT compilation)
CHANGE_TIMEOUT=20     # seconds: the longest wait for one change to reach every node
SETTLE_TIMEOUT=30     # seconds: the longest wait for the cluster to settle before a change
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
HELPER="$ROOT/bench/cluster-scale/measure.py"
DOCS="$ROOT/docs/benchmarks.md"
PY=/usr/bin/python3
STARTED=$SECONDS
LOADAVG_START=$(cut -d' ' -f1 /proc/loadavg)

log() { printf '[cluster-scale %3ds] %s\n' "$((SECONDS - STARTED))" "$*"; }
die() { printf 'cluster-scale: %s\n' "$*" >&2; exit 1; }

[[ -x $PY ]] || die "python3 is missing (apt-get install -y python3)"
command -v dotnet >/dev/null || die "the .NET 10 SDK (dotnet) is not installed; see README.md"

# Commit of what is measured: docs/benchmarks.md is this script's output, so it does not make the tree dirty.
if COMMIT=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null); then
  [[ -z $(git -C "$ROOT" status --porcelain -- . ':(exclude)docs/benchmarks.md' 2>/dev/null) ]] || COMMIT+="-dirty"
else
  COMMIT=unknown
fi

# --- Temporary directory and process tracking -----------------------------------------------------------------------
WORK=$(mktemp -d -t shardruntime-cluster-scale.XXXXXX)
PIDS=()           # every node process this script started, stopped by PID
OK=0

# Running, or still exiting: a .NET process's main thread can end (a zombie) while other threads are still finishing
# (State Z, Threads 2 in /proc/PID/status); only a zombie without threads has ended.
alive() {
  local state threads
  [[ -e /proc/$1 ]] || return 1
  read -r state threads < <(awk '/^State:/ {s = $2} /^Threads:/ {t = $2} END {print s, t}' "/proc/$1/status" 2>/dev/null) || return 0
  [[ $state != Z || ${threads:-0} -gt 1 ]]
}

# Every PID given: SIGTERM, up to $1 seconds for all of them to go, then SIGKILL to the rest.
stop_pids() {
  local grace=$1 pid i left
  shift
  for pid in "$@"; do alive "$pid" && kill -TERM "$pid" 2>/dev/null; done
  for ((i = 0; i < grace * 10; i++)); do
    left=0
    for pid in "$@"; do alive "$pid" && left=1; done
    ((left)) || break
    sleep 0.1
  done
  for pid in "$@"; do
    if alive "$pid"; then
      log "PID $pid still running ${grace}s after SIGTERM: SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
  done
}

cleanup() {
  local rc=$?
  set +e
  trap - EXIT INT TERM
  ((${#PIDS[@]})) && stop_pids 20 "${PIDS[@]}"
  if ((OK && !KEEP)); then
    rm -rf "$WORK"
  else
    echo "cluster-scale: node logs and JSON kept in $WORK" >&2
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- Build ----------------------------------------------------------------------------------------------------------
log "building src/Host (Release)"
dotnet build -c Release src/Host >"$WORK/build.log" 2>&1 || { tail -30 "$WORK/build.log" >&2; die "dotnet build -c Release src/Host failed"; }
HOST=src/Host/bin/Release/net10.0/shardruntime.dll
[[ -f $HOST ]] || die "build output missing: $HOST"

ADDRESSES=()
for ((i = 1; i <= NODES; i++)); do ADDRESSES+=("127.0.0.$((10 + i))"); done
PORT=$($PY "$HELPER" freeport "${ADDRESSES[@]}") || die "no TCP port is free on all of ${ADDRESSES[*]}"

# --- One cluster: start, time the changes, stop -------------------------------------------------------------------------
# series NAME NOTIFY: NOTIFY empty = the nodes' config file leaves notify-subscribers-interval alone.
series() {
  local name=$1 notify=$2 dir="$WORK/$1" i j pid seed="" nodes=() specs=() sockets=()
  mkdir -p "$dir"
  {
    echo "shard-runtime {"
    echo "  listeners { http { endpoint = \"127.0.0.1:$PORT\", handler = http-ok, shards = $START_SHARDS } }"
    echo "  shutdown.drain-timeout = 5s"
    echo "}"
    echo "akka.log-config-on-start = on"
    [[ -z $notify ]] || echo "akka.cluster.distributed-data.notify-subscribers-interval = $notify"
  } >"$dir/node.conf"
  for ((i = 1; i <= NODES; i++)); do
    SHARDRUNTIME_CLUSTER_HOSTNAME=${ADDRESSES[i - 1]} SHARDRUNTIME_CLUSTER_PORT=0 SHARDRUNTIME_CLUSTER_SEED_NODES=$seed \
      SHARDRUNTIME_BIND_ADDRESS=${ADDRESSES[i - 1]} \
      dotnet "$HOST" run --config "$dir/node.conf" --control-socket "$dir/node$i.sock" >"$dir/node$i.log" 2>&1 &
    pid=$!
    PIDS+=("$pid")
    nodes+=("$pid")
    specs+=(--node "${ADDRESSES[i - 1]}=$dir/node$i.sock")
    sockets+=("$dir/node$i.sock")
    if ((i == 1)); then
      # The seed's actual remoting address (port 0: ephemeral), from the line its cluster actor logs when it starts.
      for ((j = 0; j < 600; j++)); do
        alive "$pid" || { tail -20 "$dir/node1.log" >&2; die "node 1 exited during start-up"; }
        seed=$(grep -o -m1 'Cluster node akka\.tcp://shardruntime@[^ ]*' "$dir/node1.log" 2>/dev/null | cut -d' ' -f3 || true)
        [[ -n $seed ]] && break
        sleep 0.1
      done
      [[ -n $seed ]] || die "node 1 did not log its cluster address within 60 s (see $dir/node1.log)"
      log "[$name] node 1 (PID $pid) formed the cluster at $seed"
    fi
  done
  log "[$name] started nodes 2-$NODES (PIDs ${nodes[*]:1}); waiting until all are Up"
  timeout 150 $PY "$HELPER" wait-up 120 "${sockets[@]}" >"$dir/wait-up.txt" 2>&1 \
    || { cat "$dir/wait-up.txt" >&2; die "the cluster did not come up (logs in $dir)"; }
  EFFECTIVE[$name]=$($PY "$HELPER" effective "$dir/node1.log" || true)
  log "[$name] $(cat "$dir/wait-up.txt"); distributed-data in effect: ${EFFECTIVE[$name]}"
  log "[$name] $WARMUP warm-up + $CHANGES changes on listener http, port $PORT"
  local rc=0
  timeout $((CHANGES * (CHANGE_TIMEOUT + SETTLE_TIMEOUT + 2) + 60)) $PY "$HELPER" run "$WORK/series-$name.json" \
    "${specs[@]}" --port "$PORT" --start "$START_SHARDS" --changes "$CHANGES" --warmup "$WARMUP" \
    --timeout "$CHANGE_TIMEOUT" --settle-timeout "$SETTLE_TIMEOUT" | tee "$dir/changes.txt" || rc=$?
  log "[$name] stopping the nodes (SIGTERM)"
  stop_pids 20 "${nodes[@]}"
  local keep=() p
  for p in "${PIDS[@]}"; do [[ " ${nodes[*]} " == *" $p "* ]] || keep+=("$p"); done
  PIDS=("${keep[@]}")
  ((rc == 0)) || die "the $name series failed (exit $rc; node logs in $dir)"
}

declare -A EFFECTIVE=()
SERIES=main
series main "$NOTIFY"
for ((c = 0; c < ${#COMPARE[@]}; c++)); do
  SERIES+=",compare$((c + 1))"
  series "compare$((c + 1))" "${COMPARE[c]}"
done

# --- Report ---------------------------------------------------------------------------------------------------------
meta() { printf '%s\t%s\n' "$1" "$2" >>"$WORK/meta.tsv"; }
: >"$WORK/meta.tsv"
meta command "bench/cluster-scale.sh${ARGS[*]:+ ${ARGS[*]}}"
meta date "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
meta commit "$COMMIT"
$PY "$ROOT/bench/benchdoc.py" machine >>"$WORK/meta.tsv"   # nproc, cpu, memory, kernel, dotnet
meta loadavg "$LOADAVG_START at the start, $(cut -d' ' -f1 /proc/loadavg) at the end"
meta nodes "$NODES"
meta port "$PORT"
meta start "$START_SHARDS"
meta changes "$CHANGES"
meta warmup "$WARMUP"
meta sequence "$($PY -c "import sys; sys.path.insert(0, 'bench/cluster-scale'); from measure import sequence
s = [$START_SHARDS] + sequence($START_SHARDS, $WARMUP + 9); print(' -> '.join(map(str, s[$WARMUP:])) + ' -> ...')")"
meta gap_ms "200-500"
meta poll_ms 5
meta status_poll_ms 10
meta series "$SERIES"
label() {
  if [[ -z $1 ]]; then
    echo "As shipped: the nodes' config file sets no distributed-data key (the host sets notify-subscribers-interval = 100ms and gossip-interval = 500ms under the file)"
  else
    echo "notify-subscribers-interval = $1 in the nodes' config file"
  fi
}
for name in ${SERIES//,/ }; do
  if [[ $name == main ]]; then meta series_main "$(label "$NOTIFY")"; else meta "series_$name" "$(label "${COMPARE[${name#compare} - 1]}")"; fi
  meta "effective_$name" "${EFFECTIVE[$name]}"
done

$PY "$HELPER" render "$WORK" "$DOCS"
log "done in $((SECONDS - STARTED)) s"
OK=1
