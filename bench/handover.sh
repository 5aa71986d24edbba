#!/usr/bin/env bash
# bench/handover.sh: connection churn across handovers, ShardRuntime and nginx in the same run.
#
# 1. Builds the host and the load generator (Release), installs nginx/python3/iproute2 from Debian if missing.
# 2. Starts a ShardRuntime node (listener http, handler http-ok, 4 shards) and nginx (4 workers, listen reuseport,
#    return 200 "OK") on free loopback ports, each tracked by PID.
# 3. Ramp: churn at rising rates (no changes) against both, alternately; the chosen rate is the highest one at which
#    ShardRuntime kept up (<= 1% skipped starts, no failure, p99 < 50 ms).
# 4. Handover at the chosen rate: churn for the scenario's duration while the server is changed at evenly spread
#    moments, alternately: ShardRuntime `reload http` (if the CLI has it) and `scale http N` (N = 1 3 2 4 ...,
#    from 4); nginx at the same moments `nginx -s reload` with the same worker count and `nginx -s reload` to the
#    next worker count of the same sequence.
# 5. Prints the tables and rewrites the handover section of docs/benchmarks.md (between its markers).
#
# Usage: bench/handover.sh [--quick] [--rate N] [--keep]
#   --quick   a short trial: 3 s ramp steps, 12 s scenario with 5 reloads + 5 shard-count changes
#   --rate N  skip the ramp and run the scenario at N connections/s
#   --keep    keep the temporary directory (logs, JSON summaries) even when the run succeeds
set -euo pipefail

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }

QUICK=0
FIXED_RATE=""
KEEP=0
ARGS=("$@")
while (($#)); do
  case "$1" in
    --quick) QUICK=1 ;;
    --rate) [[ $# -ge 2 && "$2" =~ ^[1-9][0-9]*$ ]] || { echo "--rate needs a positive whole number" >&2; exit 2; }
            FIXED_RATE=$2; shift ;;
    --keep) KEEP=1 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "unknown option: $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done

if ((QUICK)); then
  RAMP_RATES=(1000 1500 2000 2500 3000 4000 6000 8000); RAMP_SECONDS=3; SCENARIO_SECONDS=12; PER_KIND=5
else
  RAMP_RATES=(1000 1500 2000 2500 3000 4000 6000 8000); RAMP_SECONDS=5; SCENARIO_SECONDS=60; PER_KIND=20
fi
TIMEOUT=5s            # load generator: bound on each connect and each reply
SOURCE_ADDRESSES=16   # load generator: 127.0.0.1..127.0.0.16 as source addresses
MAX_IN_FLIGHT=1000    # load generator: attempts in flight at most
SEQUENCE=(1 3 2 4)    # shard / worker counts after each count change, starting from 4
START_COUNT=4

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
HELPER="$ROOT/bench/handover/report.py"
TEMPLATE="$ROOT/bench/handover/nginx.conf.template"
DOCS="$ROOT/docs/benchmarks.md"
PY=/usr/bin/python3
STARTED=$SECONDS
LOADAVG_START=$(cut -d' ' -f1 /proc/loadavg)

log() { printf '[handover %3ds] %s\n' "$((SECONDS - STARTED))" "$*"; }
die() { printf 'handover: %s\n' "$*" >&2; exit 1; }
now_ms() { date +%s%3N; }

# --- What the script needs ------------------------------------------------------------------------------------------
missing=()
[[ -x /usr/sbin/nginx ]] || command -v nginx >/dev/null || missing+=(nginx)
[[ -x $PY ]] || missing+=(python3)
command -v ss >/dev/null || missing+=(iproute2)
command -v timeout >/dev/null || missing+=(coreutils)
if ((${#missing[@]})); then
  [[ $(id -u) -eq 0 ]] || die "missing ${missing[*]}; install them (apt-get install -y ${missing[*]}) or run as root"
  log "installing from Debian: ${missing[*]}"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
command -v dotnet >/dev/null || die "the .NET 10 SDK (dotnet) is not installed; see README.md"

# Commit of what is measured: docs/benchmarks.md is this script's output, so it does not make the tree dirty.
if COMMIT=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null); then
  [[ -z $(git -C "$ROOT" status --porcelain -- . ':(exclude)docs/benchmarks.md' 2>/dev/null) ]] || COMMIT+="-dirty"
else
  COMMIT=unknown
fi

# --- Temporary directory and process tracking -----------------------------------------------------------------------
WORK=$(mktemp -d -t shardruntime-handover.XXXXXX)
NGINX_CONF="$WORK/nginx.conf"
NGINX_RUNNING=0
OK=0
STOP_GRACE=15
source "$ROOT/bench/procs.sh"   # PIDS, track, untrack, alive, stop_pid (nginx's workers with their master), wait_sockets

nginx_ctl() { "$NGINX" -c "$NGINX_CONF" -p "$WORK/" -e "$WORK/nginx-error.log" "$@"; }

cleanup() {
  local rc=$? pid
  set +e
  trap - EXIT INT TERM
  if ((NGINX_RUNNING)) && [[ -n ${NGINX_PID:-} ]] && alive "$NGINX_PID"; then
    nginx_ctl -s quit >/dev/null 2>&1
    for ((i = 0; i < 100; i++)); do alive "$NGINX_PID" || break; sleep 0.1; done
  fi
  for pid in "${PIDS[@]}"; do stop_pid "$pid" 15; done
  if ((OK && !KEEP)); then
    rm -rf "$WORK"
  else
    echo "handover: logs and JSON summaries kept in $WORK" >&2
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- Build ----------------------------------------------------------------------------------------------------------
log "building src/Host and bench/LoadGen (Release)"
for project in src/Host bench/LoadGen; do
  dotnet build -c Release "$project" >"$WORK/build.log" 2>&1 || { tail -30 "$WORK/build.log" >&2; die "dotnet build -c Release $project failed"; }
done
HOST=src/Host/bin/Release/net10.0/shardruntime
LOADGEN=bench/LoadGen/bin/Release/net10.0/shardruntime-loadgen
[[ -x $HOST && -x $LOADGEN ]] || die "build output missing: $HOST, $LOADGEN"

RELOAD_AVAILABLE=0
if "$HOST" --help 2>/dev/null | grep -Eq '^[[:space:]]+reload([[:space:]]|$)'; then RELOAD_AVAILABLE=1; fi
if ((RELOAD_AVAILABLE)); then
  log "shardruntime has a reload command: handler reloads and shard-count changes"
else
  log "shardruntime --help lists no reload command: shard-count changes only (reload slots stay empty on both servers)"
fi

# --- Servers --------------------------------------------------------------------------------------------------------
SR_PORT=$($PY "$HELPER" freeport)
NGINX_PORT=$($PY "$HELPER" freeport)
while [[ $NGINX_PORT == "$SR_PORT" ]]; do NGINX_PORT=$($PY "$HELPER" freeport); done
SOCK="$WORK/control.sock"

wait_listening() { wait_sockets tcp "$@"; } # port count seconds pid

cat >"$WORK/shardruntime.conf" <<EOF
shard-runtime {
  listeners {
    http { endpoint = "127.0.0.1:$SR_PORT", handler = http-ok, shards = $START_COUNT }
  }
  control.socket-path = "$SOCK"
  shutdown.drain-timeout = 5s
}
EOF
log "starting ShardRuntime on 127.0.0.1:$SR_PORT ($START_COUNT shards)"
"$HOST" run --config "$WORK/shardruntime.conf" >"$WORK/shardruntime.log" 2>&1 &
SR_PID=$!
track "$SR_PID"
ready=0
for ((i = 0; i < 300; i++)); do
  alive "$SR_PID" || { tail -20 "$WORK/shardruntime.log" >&2; die "the ShardRuntime node exited during start-up"; }
  if "$HOST" status --json --control-socket "$SOCK" >"$WORK/status-start.json" 2>/dev/null; then ready=1; break; fi
  sleep 0.1
done
((ready)) || die "the ShardRuntime node did not answer status --json within 30 s"
wait_listening "$SR_PORT" "$START_COUNT" 10 "$SR_PID" || die "ShardRuntime does not have $START_COUNT listening sockets"

# Workers may raise their open-file limit only up to the hard limit they inherit.
NOFILE=$(ulimit -Hn)
if [[ $NOFILE == unlimited || $NOFILE -gt 65536 ]]; then NOFILE=65536; fi
render_nginx() {
  sed -e "s|@DIR@|$WORK|g" -e "s|@PORT@|$NGINX_PORT|g" -e "s|@WORKERS@|$1|g" -e "s|@NOFILE@|$NOFILE|g" "$TEMPLATE" >"$NGINX_CONF.new"
  mv "$NGINX_CONF.new" "$NGINX_CONF"
}
mkdir -p "$WORK/nginx-temp"
render_nginx "$START_COUNT"
nginx_ctl -t -q || die "nginx rejects $NGINX_CONF"
log "starting nginx on 127.0.0.1:$NGINX_PORT ($START_COUNT workers)"
nginx_ctl >"$WORK/nginx.out" 2>&1 &
NGINX_PID=$!
track "$NGINX_PID"
NGINX_RUNNING=1
wait_listening "$NGINX_PORT" "$START_COUNT" 10 "$NGINX_PID" || { cat "$WORK/nginx-error.log" >&2 || true; die "nginx did not start listening"; }

# --- Load -----------------------------------------------------------------------------------------------------------
port_of() { if [[ $1 == shardruntime ]]; then echo "$SR_PORT"; else echo "$NGINX_PORT"; fi; }

# load SERVER RATE SECONDS JSON [PROGRESS]: one churn run in the foreground.
load() {
  "$LOADGEN" --target "127.0.0.1:$(port_of "$1")" --mode churn --rate "$2" --duration "${3}s" --timeout "$TIMEOUT" \
    --max-in-flight "$MAX_IN_FLIGHT" --source-addresses "$SOURCE_ADDRESSES" --json "$4" --progress >"${5:-/dev/null}" 2>&1 &
  local pid=$!
  track "$pid"
  local rc=0
  wait "$pid" || rc=$?
  untrack "$pid"
  [[ $rc -eq 0 && -s $4 ]] || die "the load generator failed (exit $rc) against $1; see ${5:-its output}"
}

log "warm-up: 3 s at 1000/s against each server (not recorded)"
load shardruntime 1000 3 "$WORK/warmup-shardruntime.json"
load nginx 1000 3 "$WORK/warmup-nginx.json"

RATE=""
RATE_REASON=""
: >"$WORK/ramp.tsv"
if [[ -n $FIXED_RATE ]]; then
  RATE=$FIXED_RATE
  RATE_REASON="given with --rate; no ramp"
else
  for rate in "${RAMP_RATES[@]}"; do
    for server in shardruntime nginx; do
      json="$WORK/ramp-$server-$rate.json"
      sleep 1
      load "$server" "$rate" "$RAMP_SECONDS" "$json"
      if verdict=$($PY "$HELPER" verdict "$json" "$rate" "$RAMP_SECONDS"); then kept=1; else kept=0; fi
      printf '%s\t%s\t%s\t%s\n' "$rate" "$server" "$json" "$( ((kept)) && echo yes || echo "no: $verdict")" >>"$WORK/ramp.tsv"
      log "ramp $rate/s $server: $($PY "$HELPER" line "$json") -> $verdict"
      if [[ $server == shardruntime ]]; then sr_kept=$kept; fi
    done
    ((sr_kept)) || break
    RATE=$rate
  done
  if [[ -z $RATE ]]; then
    RATE=${RAMP_RATES[0]}
    RATE_REASON="ShardRuntime kept up with none of the ramp's rates; the lowest is used"
  elif [[ $RATE == "${RAMP_RATES[-1]}" ]]; then
    RATE_REASON="the highest rate of the ramp, and ShardRuntime kept up with it: the machine may hold more"
  else
    RATE_REASON="the highest ramp rate at which ShardRuntime kept up"
  fi
fi
log "chosen rate: $RATE connections/s ($RATE_REASON)"

# --- Handover scenario ----------------------------------------------------------------------------------------------
SLOTS=$((2 * PER_KIND))
INTERVAL_MS=$((SCENARIO_SECONDS * 1000 / (SLOTS + 1)))

# change SERVER INDEX KIND FROM TO: one change through the server's own tool; prints "rc<TAB>one-line output".
change() {
  local out rc=0
  if [[ $1 == shardruntime ]]; then
    if [[ $3 == reload ]]; then
      out=$(timeout 30 "$HOST" reload http --control-socket "$SOCK" 2>&1) || rc=$?
    else
      out=$(timeout 30 "$HOST" scale http "$5" --control-socket "$SOCK" 2>&1) || rc=$?
    fi
  else
    render_nginx "$5"
    out=$(nginx_ctl -s reload 2>&1) || rc=$?
  fi
  printf '%s\t%s' "$rc" "$(printf '%s' "$out" | tr '\t\n' '  ' | cut -c1-300)"
}

scenario() {
  local server=$1 count=$START_COUNT json="$WORK/scenario-$1.json" progress="$WORK/scenario-$1.progress"
  local changes="$WORK/changes-$1.tsv" k j=0 kind to t0 target wait_ms start end result pid rc=0 what
  : >"$changes"
  log "handover $server: $RATE/s for ${SCENARIO_SECONDS}s, a change every ${INTERVAL_MS} ms"
  "$LOADGEN" --target "127.0.0.1:$(port_of "$server")" --mode churn --rate "$RATE" --duration "${SCENARIO_SECONDS}s" \
    --timeout "$TIMEOUT" --max-in-flight "$MAX_IN_FLIGHT" --source-addresses "$SOURCE_ADDRESSES" --json "$json" \
    --progress >"$progress" 2>&1 &
  pid=$!
  track "$pid"
  t0=$(now_ms)
  for ((k = 1; k <= SLOTS; k++)); do
    if ((k % 2)); then kind=reload; to=$count; else kind=scale; to=${SEQUENCE[j % ${#SEQUENCE[@]}]}; j=$((j + 1)); fi
    if [[ $kind == reload && $RELOAD_AVAILABLE -eq 0 ]]; then continue; fi
    target=$((t0 + k * INTERVAL_MS))
    wait_ms=$((target - $(now_ms)))
    if ((wait_ms > 0)); then sleep "$(printf '%d.%03d' $((wait_ms / 1000)) $((wait_ms % 1000)))"; fi
    alive "$pid" || break
    start=$(now_ms)
    if [[ $server == nginx ]]; then
      result=$(change nginx "$k" "$kind" "$count" "$to")
      if [[ $kind == scale ]]; then kind=workers; fi
    elif [[ $kind == reload ]]; then
      result=$(change shardruntime "$k" reload "$count" "")
      to=""
    else
      result=$(change shardruntime "$k" scale "$count" "$to")
    fi
    end=$(now_ms)
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$k" "$((k * INTERVAL_MS))" "$start" "$end" "$kind" "$count" "$to" "$result" >>"$changes"
    if [[ $kind == reload ]]; then what="reload ($count $([[ $server == nginx ]] && echo workers || echo shards))"; else what="$kind $count -> $to"; fi
    log "  $server change $k at $(((start - t0) / 1000)).$(printf '%03d' $(((start - t0) % 1000)))s: $what: exit ${result%%$'\t'*} (${result#*$'\t'}) [$((end - start)) ms]"
    if [[ $kind == scale || $kind == workers ]]; then count=$to; fi
  done
  wait "$pid" || rc=$?
  untrack "$pid"
  [[ $rc -eq 0 && -s $json ]] || die "the load generator failed (exit $rc) during the $server handover; see $progress"
  log "handover $server: $($PY "$HELPER" line "$json")"
}

sleep 1
scenario shardruntime
"$HOST" status --json --control-socket "$SOCK" >"$WORK/status-end.json" 2>&1 || log "status --json after the scenario failed"
sleep 1
scenario nginx

# --- Stop the servers, write the report -----------------------------------------------------------------------------
log "stopping nginx (nginx -s quit) and ShardRuntime (SIGTERM)"
nginx_ctl -s quit >/dev/null 2>&1 || true
for ((i = 0; i < 100; i++)); do alive "$NGINX_PID" || break; sleep 0.1; done
stop_pid "$NGINX_PID" 5
untrack "$NGINX_PID"
NGINX_RUNNING=0
stop_pid "$SR_PID" 15
untrack "$SR_PID"

meta() { printf '%s\t%s\n' "$1" "$2" >>"$WORK/meta.tsv"; }
: >"$WORK/meta.tsv"
meta command "bench/handover.sh${ARGS[*]:+ ${ARGS[*]}}"
meta date "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
meta commit "$COMMIT"
meta quick "$QUICK"
$PY "$ROOT/bench/benchdoc.py" machine >>"$WORK/meta.tsv"   # nproc, cpu, memory, kernel, dotnet
meta loadavg "$LOADAVG_START at the start, $(cut -d' ' -f1 /proc/loadavg) at the end"
meta nginx "$("$NGINX" -v 2>&1 | sed 's/^nginx version: //')"
meta sysctls "$(for k in net.ipv4.tcp_migrate_req net.core.somaxconn net.ipv4.tcp_tw_reuse; do printf '%s = %s, ' "$k" "$(sysctl -n "$k" 2>/dev/null || echo n/a)"; done | sed 's/, $//')"
meta timeout "$TIMEOUT"
meta source_addresses "$SOURCE_ADDRESSES"
meta ramp_seconds "$RAMP_SECONDS"
meta rate "$RATE"
meta rate_reason "$RATE_REASON"
meta scenario_seconds "$SCENARIO_SECONDS"
meta interval "$(printf '%d.%02d' $((INTERVAL_MS / 1000)) $((INTERVAL_MS % 1000 / 10)))"
meta reload_available "$RELOAD_AVAILABLE"
meta reloads "$PER_KIND"
meta scales "$PER_KIND"
meta sequence "$START_COUNT -> $(for ((j = 0; j < PER_KIND; j++)); do printf '%s ' "${SEQUENCE[j % ${#SEQUENCE[@]}]}"; done | sed 's/ $//; s/ / -> /g')"

$PY "$HELPER" render "$WORK" "$DOCS"
log "done in $((SECONDS - STARTED)) s"
OK=1
