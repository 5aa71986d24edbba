#!/usr/bin/env bash
# bench/peers.sh: ShardRuntime side by side with nginx, Kestrel and plain .NET sockets, in one run.
#
# 1. Installs what it needs from Debian when missing (wrk, nginx-light, python3, iproute2, gnuplot-nox; the chart falls
#    back to python3-matplotlib when gnuplot's png terminal does not work) and builds Release: src/Host and
#    bench/Peers/{Kestrel,RawSockets,Http64k}.
# 2. Servers, each on its own free loopback ports, tracked by PID, started fresh for each of its turns:
#      sr-sharded       ShardRuntime node, listeners http (http-ok) and http-64k (bench/Peers/Http64k), shards = 0
#      sr-single        the same with shards = 1 (one shared accept queue)
#      nginx-reuseport  nginx, 2 workers, listen ... reuseport
#      nginx-mutex-on   nginx, 2 workers, one listening socket, accept_mutex on
#      nginx-mutex-off  nginx, 2 workers, one listening socket, accept_mutex off
#      kestrel          ASP.NET Core minimal API (bench/Peers/Kestrel)
#      raw              plain .NET sockets, 2 SO_REUSEPORT sockets, no actors (bench/Peers/RawSockets)
# 3. Rounds: in each round every server takes a turn, in an order rotated by one each round, so that drift of the
#    machine falls on all alike. A turn: start, warm-up (not counted: keep-alive and churn traffic, then the 64 KiB
#    body, so that the .NET servers' tiered JIT has compiled every path measured; nginx needs none), then the scenarios
#      idle   10,000 idle keep-alive connections (bench/peers/idle.py): server RSS per connection
#      ka32   wrk -t2 -c32 keep-alive: requests/s and latency
#      ka256  wrk -t2 -c256 keep-alive
#      churn  wrk -t2 -c32 -H 'Connection: close': connections/s (checks that the server really closes)
#      large  wrk -t2 -c32 on a 64 KiB body, keep-alive: MB/s
#    then SIGTERM (SIGKILL after a bounded wait).
# 4. Prints the tables (medians of the rounds with min–max, latency, errors), the ratios to the targets of issue
#    "5/5 Performance", rewrites the peers section of docs/benchmarks.md and draws docs/benchmarks-peers.png.
#
# Usage: bench/peers.sh [--rounds N] [--duration S] [--quick] [--keep]
#   --rounds N    rounds (default 3; --quick: 2)
#   --duration S  seconds per wrk measurement (default 8; --quick: 2)
#   --quick       a short trial: 2 rounds, 2 s measurements, 1 s warm-ups, 5,000 idle connections, 2 s settle
#   --keep        keep the temporary directory (raw per-run JSON, wrk outputs, server logs) even when the run succeeds
set -euo pipefail

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }

QUICK=0
KEEP=0
ROUNDS=""
DURATION=""
ARGS=("$@")
while (($#)); do
  case "$1" in
    --rounds) [[ $# -ge 2 && "$2" =~ ^[1-9][0-9]*$ ]] || { echo "--rounds needs a positive whole number" >&2; exit 2; }
              ROUNDS=$2; shift ;;
    --duration) [[ $# -ge 2 && "$2" =~ ^[1-9][0-9]*$ && "$2" -le 600 ]] || { echo "--duration needs whole seconds from 1 to 600" >&2; exit 2; }
                DURATION=$2; shift ;;
    --quick) QUICK=1 ;;
    --keep) KEEP=1 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "unknown option: $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done

if ((QUICK)); then
  ROUNDS=${ROUNDS:-2}; DURATION=${DURATION:-2}; WARMUP=1; IDLE_CONNECTIONS=5000; SETTLE=2
else
  ROUNDS=${ROUNDS:-3}; DURATION=${DURATION:-8}; WARMUP=5; IDLE_CONNECTIONS=10000; SETTLE=3
fi
SERVERS=(sr-sharded sr-single nginx-reuseport nginx-mutex-on nginx-mutex-off kestrel raw)
WRK_TIMEOUT=5s       # wrk: a reply later than this counts as a timeout error
START_TIMEOUT=60     # seconds: the longest wait for a server to listen and answer
STOP_GRACE=20        # seconds between SIGTERM and SIGKILL
DRAIN_WAIT=30        # seconds: the longest wait for a server's connections to go after a scenario
IDLE_TIMEOUT=120     # seconds: the longest the holder may take to establish its connections

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
HELPER="$ROOT/bench/peers/report.py"
HOLDER="$ROOT/bench/peers/idle.py"
LUA="$ROOT/bench/peers/wrk.lua"
TEMPLATE="$ROOT/bench/peers/nginx.conf.template"
DOCS="$ROOT/docs/benchmarks.md"
PNG="$ROOT/docs/benchmarks-peers.png"
PY=/usr/bin/python3
STARTED=$SECONDS
LOADAVG_START=$(cut -d' ' -f1 /proc/loadavg)

log() { printf '[peers %4ds] %s\n' "$((SECONDS - STARTED))" "$*"; }
die() { printf 'peers: %s\n' "$*" >&2; exit 1; }

# --- What the script needs ------------------------------------------------------------------------------------------
NEED_UPDATE=1
apt_install() {
  [[ $(id -u) -eq 0 ]] || die "missing $*; install them (apt-get install -y $*) or run as root"
  log "installing from Debian: $*"
  if ((NEED_UPDATE)); then DEBIAN_FRONTEND=noninteractive apt-get update -qq; NEED_UPDATE=0; fi
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$@" >/dev/null
}
missing=()
command -v wrk >/dev/null || missing+=(wrk)
[[ -x /usr/sbin/nginx ]] || command -v nginx >/dev/null || missing+=(nginx-light)
[[ -x $PY ]] || missing+=(python3)
command -v ss >/dev/null || missing+=(iproute2)
command -v timeout >/dev/null || missing+=(coreutils)
command -v gnuplot >/dev/null || missing+=(gnuplot-nox)
((${#missing[@]} == 0)) || apt_install "${missing[@]}"
NGINX=$(command -v nginx || echo /usr/sbin/nginx)
command -v dotnet >/dev/null || die "the .NET 10 SDK (dotnet) is not installed; see README.md"
CHART=gnuplot
if ! gnuplot -e 'set terminal png; set output "/dev/null"; plot 1' >/dev/null 2>&1; then
  CHART=matplotlib
  $PY -c 'import matplotlib' 2>/dev/null || apt_install python3-matplotlib
  $PY -c 'import matplotlib' 2>/dev/null || die "neither gnuplot's png terminal nor python3-matplotlib works"
fi

# Commit of what is measured: docs/benchmarks.md and the chart are this script's output, they do not make it dirty.
if COMMIT=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null); then
  [[ -z $(git -C "$ROOT" status --porcelain -- . ':(exclude)docs/benchmarks.md' ':(exclude)docs/benchmarks-peers.png' 2>/dev/null) ]] || COMMIT+="-dirty"
else
  COMMIT=unknown
fi

# Every server raises its open-file limit to this (the hard limit, at most 65536): 10,000 idle connections need it.
NOFILE=$(ulimit -Hn)
if [[ $NOFILE == unlimited || $NOFILE -gt 65536 ]]; then NOFILE=65536; fi
((NOFILE >= IDLE_CONNECTIONS + 200)) || die "the open-file hard limit ($NOFILE) is too low for $IDLE_CONNECTIONS idle connections"
NPROC=$(nproc)

# --- Temporary directory and process tracking -----------------------------------------------------------------------
WORK=$(mktemp -d -t shardruntime-peers.XXXXXX)
chmod 711 "$WORK"   # nginx's workers (user nobody when started as root) read the 64 KiB file below it
mkdir -p "$WORK/raw" "$WORK/www"
OK=0
source "$ROOT/bench/procs.sh"   # PIDS, track, untrack, alive, stop_pid (nginx's workers with their master), wait_sockets, stop_server, established

cleanup() {
  local rc=$? pid
  set +e
  trap - EXIT INT TERM
  for pid in "${PIDS[@]}"; do stop_pid "$pid" 10; done
  if ((OK && !KEEP)); then
    rm -rf "$WORK"
  else
    echo "peers: raw JSON, wrk outputs and server logs kept in $WORK" >&2
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- Build ----------------------------------------------------------------------------------------------------------
HOST_DLL=src/Host/bin/Release/net10.0/shardruntime.dll
KESTREL_DLL=bench/Peers/Kestrel/bin/Release/net10.0/peers-kestrel.dll
RAW_DLL=bench/Peers/RawSockets/bin/Release/net10.0/peers-rawsockets.dll
HTTP64K_DLL=$ROOT/bench/Peers/Http64k/bin/Release/net10.0/Peers.Http64k.dll
for project in src/Host bench/Peers/Kestrel bench/Peers/RawSockets bench/Peers/Http64k; do
  log "building $project (Release)"
  dotnet build -c Release "$project" >"$WORK/build.log" 2>&1 || { tail -30 "$WORK/build.log" >&2; die "dotnet build -c Release $project failed"; }
done
for f in "$HOST_DLL" "$KESTREL_DLL" "$RAW_DLL" "$HTTP64K_DLL"; do [[ -f $f ]] || die "build output missing: $f"; done

# The 64 KiB body nginx serves (the .NET servers hold the same bytes in memory: 65,536 times "x").
$PY -c 'import sys; open(sys.argv[1], "wb").write(b"x" * 65536)' "$WORK/www/64k"
chmod 755 "$WORK/www"; chmod 644 "$WORK/www/64k"

# --- Servers --------------------------------------------------------------------------------------------------------
SERVER_PID=""   # the running server's root process (nginx: the master)
PORT=""         # its port for / (and for /64k, but for ShardRuntime)
PORT_LARGE=""   # its port for the 64 KiB body
PATH_LARGE=""   # the path of the 64 KiB body

time_wait() { ss -Htan state time-wait "( $1 = :$2 )" | wc -l; }

wait_listening() { wait_sockets tcp "$@"; } # port count seconds pid

# start_server NAME ROUND: starts it on fresh ports, returns once it listens and answers.
start_server() {
  local name=$1 dir="$WORK/$1-r$2" ports sockets shards mutex listen
  mkdir -p "$dir"
  mapfile -t ports < <($PY "$HELPER" freeport 2)
  PORT=${ports[0]}; PORT_LARGE=$PORT; PATH_LARGE=/64k
  case $name in
    sr-*)
      shards=0; sockets=$NPROC
      if [[ $name == sr-single ]]; then shards=1; sockets=1; fi
      PORT_LARGE=${ports[1]}; PATH_LARGE=/
      cat >"$dir/shardruntime.conf" <<EOF
shard-runtime {
  listeners {
    http { endpoint = "127.0.0.1:$PORT", handler = http-ok, shards = $shards, idle-timeout = 300s }
    http-64k {
      endpoint = "127.0.0.1:$PORT_LARGE", shards = $shards, idle-timeout = 300s
      handler-assembly = "$HTTP64K_DLL"
      handler-type = "ShardRuntime.Peers.Http64k.Http64kHandlerFactory"
    }
  }
  control.socket-path = "$dir/control.sock"
  shutdown.drain-timeout = 5s
}
EOF
      (ulimit -n "$NOFILE" && exec dotnet "$HOST_DLL" run --config "$dir/shardruntime.conf") >"$dir/server.log" 2>&1 &
      SERVER_PID=$!; track "$SERVER_PID"
      $PY "$HELPER" control-ready "$dir/control.sock" "$START_TIMEOUT" \
        || { tail -20 "$dir/server.log" >&2; die "$name: the node's control socket did not answer status within ${START_TIMEOUT} s"; }
      wait_listening "$PORT_LARGE" "$sockets" 10 "$SERVER_PID" || die "$name: not $sockets listening sockets on port $PORT_LARGE"
      ;;
    nginx-*)
      sockets=1; mutex=off; listen=""
      case $name in
        nginx-reuseport) sockets=2; listen=reuseport ;;
        nginx-mutex-on) mutex=on ;;
      esac
      mkdir -p "$dir/temp"
      sed -e "s|@DIR@|$dir|g" -e "s|@PORT@|$PORT|g" -e "s|@LISTEN@|$listen|g" -e "s|@ACCEPT_MUTEX@|$mutex|g" \
          -e "s|@NOFILE@|$NOFILE|g" -e "s|@BODY@|$WORK/www/64k|g" "$TEMPLATE" >"$dir/nginx.conf"
      "$NGINX" -c "$dir/nginx.conf" -p "$dir/" -e "$dir/error.log" -t -q || die "nginx rejects $dir/nginx.conf"
      (ulimit -n "$NOFILE" && exec "$NGINX" -c "$dir/nginx.conf" -p "$dir/" -e "$dir/error.log") >"$dir/server.log" 2>&1 &
      SERVER_PID=$!; track "$SERVER_PID"
      ;;
    kestrel)
      sockets=1
      (ulimit -n "$NOFILE" && exec dotnet "$KESTREL_DLL" "$PORT") >"$dir/server.log" 2>&1 &
      SERVER_PID=$!; track "$SERVER_PID"
      ;;
    raw)
      sockets=2
      (ulimit -n "$NOFILE" && exec dotnet "$RAW_DLL" "$PORT") >"$dir/server.log" 2>&1 &
      SERVER_PID=$!; track "$SERVER_PID"
      ;;
    *) die "unknown server $name" ;;
  esac
  wait_listening "$PORT" "$sockets" "$START_TIMEOUT" "$SERVER_PID" \
    || { tail -20 "$dir/server.log" "$dir/error.log" 2>/dev/null >&2; die "$name: not $sockets listening sockets on port $PORT within ${START_TIMEOUT} s"; }
  $PY "$HELPER" http-ready "$PORT" / 20 >/dev/null || die "$name: GET / does not answer 200"
  $PY "$HELPER" http-ready "$PORT_LARGE" "$PATH_LARGE" 20 >/dev/null || die "$name: GET $PATH_LARGE on port $PORT_LARGE does not answer 200"
  alive "$SERVER_PID" || die "$name exited during start-up"
}

# Waits (bounded) until no connection of the last scenario is left on the server's ports.
drained() {
  local i first=""
  for ((i = 0; i < DRAIN_WAIT * 10; i++)); do
    [[ $(established "$PORT") -eq 0 && $(established "$PORT_LARGE") -eq 0 ]] && break
    first=${first:-$(($(established "$PORT") + $(established "$PORT_LARGE")))}
    if ((i == 20)); then   # still open after 2 s: what the kernel says of them, for the log of the run
      ss -tnioe state established "( sport = :$PORT or sport = :$PORT_LARGE )" >"$WORK/lingering-$PORT-$SECONDS.txt" 2>&1 || true
    fi
    sleep 0.1
  done
  if ((i >= DRAIN_WAIT * 10)); then
    log "  $(($(established "$PORT") + $(established "$PORT_LARGE"))) of the server's connections (of $first) still open after ${DRAIN_WAIT}s"
  elif ((i > 10)); then
    log "  $first of the server's connections took $((i / 10)).$((i % 10)) s to close (what ss said of them at 2 s: $WORK/lingering-$PORT-*.txt, kept with --keep)"
  fi
}

# --- Load -----------------------------------------------------------------------------------------------------------
# wrk_run OUT SECONDS CONNECTIONS URL [wrk options]: one bounded wrk run in the foreground, tracked by PID.
wrk_run() {
  local out=$1 seconds=$2 connections=$3 url=$4 pid rc=0
  shift 4
  timeout -k 5 $((seconds + 30)) wrk -t2 -c"$connections" -d"${seconds}s" --latency --timeout "$WRK_TIMEOUT" \
    -s "$LUA" "$@" "$url" >"$out" 2>&1 &
  pid=$!
  track "$pid"
  wait "$pid" || rc=$?
  untrack "$pid"
  ((rc == 0)) || die "wrk failed (exit $rc) against $url; see $out"
}

# measure SERVER ROUND POSITION SCENARIO
measure() {
  local server=$1 round=$2 pos=$3 scenario=$4 base="$WORK/raw/r$2-$1-$4" tw_s0 tw_c0 rc=0 pid
  local common=("server=$server" "scenario=$scenario" "round=$round" "position=$pos")
  case $scenario in
    ka32|ka256)
      wrk_run "$base.wrk" "$DURATION" "${scenario#ka}" "http://127.0.0.1:$PORT/"
      $PY "$HELPER" wrk-record "$base.wrk" "$base.json" "${common[@]}" "connections=${scenario#ka}" ;;
    churn)
      tw_s0=$(time_wait sport "$PORT"); tw_c0=$(time_wait dport "$PORT")
      PEERS_COUNT_CLOSE=1 wrk_run "$base.wrk" "$DURATION" 32 "http://127.0.0.1:$PORT/" -H "Connection: close"
      $PY "$HELPER" wrk-record "$base.wrk" "$base.json" "${common[@]}" connections=32 \
        "tw_server=$(($(time_wait sport "$PORT") - tw_s0))" "tw_client=$(($(time_wait dport "$PORT") - tw_c0))" ;;
    large)
      wrk_run "$base.wrk" "$DURATION" 32 "http://127.0.0.1:$PORT_LARGE$PATH_LARGE"
      $PY "$HELPER" wrk-record "$base.wrk" "$base.json" "${common[@]}" connections=32 ;;
    idle)
      timeout -k 5 $((IDLE_TIMEOUT + SETTLE + 60)) "$PY" "$HOLDER" --port "$PORT" --connections "$IDLE_CONNECTIONS" \
        --pid "$SERVER_PID" --settle "$SETTLE" --timeout "$IDLE_TIMEOUT" --out "$base.idle" >"$base.out" 2>&1 &
      pid=$!
      track "$pid"
      wait "$pid" || rc=$?
      untrack "$pid"
      [[ -s $base.idle ]] || die "the idle-connection holder failed (exit $rc) against $server; see $base.out"
      ((rc == 0)) || log "  the holder found no connection open at the measurement (exit $rc)"
      $PY - "$base.idle" "$base.json" "${common[@]}" <<'EOF'
import json, sys
r = json.load(open(sys.argv[1]))
for pair in sys.argv[3:]:
    k, _, v = pair.partition("=")
    r[k] = int(v) if v.isdigit() else v
json.dump(r, open(sys.argv[2], "w"), indent=1)
EOF
      ;;
  esac
  log "  $scenario: $($PY "$HELPER" line "$base.json")"
  alive "$SERVER_PID" || die "$server exited during $scenario; see its log in $WORK/$server-r$round"
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
    start_server "$server" "$r"
    log "$server (PID $SERVER_PID) on port $PORT$([[ $PORT_LARGE != "$PORT" ]] && echo " and $PORT_LARGE (64 KiB)"): warm-up"
    wrk_run "$WORK/raw/r$r-$server-warmup.txt" "$WARMUP" 32 "http://127.0.0.1:$PORT/"
    wrk_run "$WORK/raw/r$r-$server-warmup-churn.txt" "$WARMUP" 32 "http://127.0.0.1:$PORT/" -H 'Connection: close'
    wrk_run "$WORK/raw/r$r-$server-warmup-large.txt" 1 32 "http://127.0.0.1:$PORT_LARGE$PATH_LARGE"
    drained
    for scenario in idle ka32 ka256 churn large; do
      measure "$server" "$r" "$pos" "$scenario"
    done
    stop_server
  done
done

# --- Report ---------------------------------------------------------------------------------------------------------
ELAPSED=$((SECONDS - STARTED))
meta() { printf '%s\t%s\n' "$1" "$2" >>"$WORK/meta.tsv"; }
: >"$WORK/meta.tsv"
meta command "bench/peers.sh${ARGS[*]:+ ${ARGS[*]}}"
meta date "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
meta commit "$COMMIT"
meta quick "$QUICK"
$PY "$ROOT/bench/benchdoc.py" machine >>"$WORK/meta.tsv"   # nproc, cpu, memory, kernel, dotnet
meta loadavg "$LOADAVG_START at the start, $(cut -d' ' -f1 /proc/loadavg) at the end"
meta nginx "$("$NGINX" -v 2>&1 | sed 's/^nginx version: //')"
meta wrk "$(wrk -v 2>&1 | head -1 | awk '{print $2}')"
meta sysctls "$(for k in net.core.somaxconn net.ipv4.tcp_tw_reuse net.ipv4.tcp_max_tw_buckets net.ipv4.ip_local_port_range; do printf '%s = %s, ' "$k" "$(sysctl -n "$k" 2>/dev/null | tr '\t' ' ' || echo n/a)"; done | sed 's/, $//')"
meta nofile "$NOFILE"
meta rounds "$ROUNDS"
meta duration "$DURATION"
meta warmup "wrk -c32 ${WARMUP} s keep-alive on /, ${WARMUP} s with Connection: close on / and 1 s on the 64 KiB body"
meta idle_connections "$IDLE_CONNECTIONS"
meta settle "$SETTLE"
meta orders "$(IFS=';'; echo "${ORDERS[*]}" | sed 's/;/; /g')"
meta chart "$CHART"
meta elapsed "$((ELAPSED / 60)) min $((ELAPSED % 60)) s"

$PY "$HELPER" render "$WORK" "$DOCS" "$PNG"
log "done in $((SECONDS - STARTED)) s"
OK=1
