#!/usr/bin/env bash
# bench/udp.sh: ShardRuntime's UDP listeners against NSD, Knot DNS and plain .NET sockets, in one run.
#
# 1. Installs what it needs from Debian (apt-get update first; dnsperf, nsd, knot, bind9-dnsutils, python3, iproute2)
#    and builds Release: src/Host, bench/LoadGen, bench/Peers/UdpEcho. The Debian services of NSD and Knot are not
#    used: every server runs in the foreground, started by this script with its own configuration, pid, zone and
#    database files under a temporary directory, on its own free 127.0.0.1 port (never port 53), and ended by its PID.
# 2. Asks the host (`shardruntime check`) whether it takes `protocol = udp` listeners. If it refuses them, every
#    ShardRuntime part is skipped with the host's own message, and the peers are still measured.
# 3. Rounds (servers take turns, the order rotated by one each round; each turn starts the server afresh, warms it
#    up, measures, stops it):
#      DNS    sr-sharded (dns-static, shards = cores), sr-single (1 socket), nsd (server-count = cores, reuseport),
#             knot (udp-workers = cores): dnsperf closed-loop (queries/s, latency average/stddev/max, lost), then
#             shardruntime-loadgen --mode udp --protocol dns at a fixed rate (latency percentiles, lost, wrong)
#      echo   sr-echo-sharded, sr-echo-single (udp-echo), dotnet-echo-sharded (cores SO_REUSEPORT sockets),
#             dotnet-echo-single (bench/Peers/UdpEcho): shardruntime-loadgen --mode udp --protocol echo at
#             saturation (datagrams/s) and at a fixed rate (latency percentiles, lost)
# 4. Change run: a steady numbered DNS query stream (shardruntime-loadgen, lost and duplicated counted exactly)
#    against ShardRuntime while it is reloaded (`shardruntime reload dns`), scaled (`scale dns N`) and upgraded
#    (`upgrade`) through its control socket at evenly spread moments, then the same stream against NSD and against
#    Knot with, at the same moments, a zone reload (serial bumped; `nsd-control reload` / `knotc reload`) where
#    ShardRuntime reloads or scales and a restart (SIGTERM, start again) where it upgrades.
# 5. Prints the tables and rewrites the udp section of docs/benchmarks.md (through bench/benchdoc.py), with the
#    targets: dns-static >= 0.8x Knot's queries/s and >= 1.0x NSD's at shards = cores; 0 lost through every change.
#
# Usage: bench/udp.sh [--rounds N] [--seconds S] [--quick] [--keep]
#   --rounds N    rounds of the DNS and echo measurements (default 3; --quick: 1)
#   --seconds S   seconds per measurement (default 10; --quick: 2)
#   --quick       a short trial: 1 round, 2 s measurements, 1 s warm-ups, a 15 s change run (3 reloads, 3 scales,
#                 1 upgrade); its docs/benchmarks.md section says it is a trial
#   --keep        keep the temporary directory (raw JSON, dnsperf outputs, server logs) even when the run succeeds
set -euo pipefail

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }

QUICK=0
KEEP=0
ROUNDS=""
MEASURE_SECONDS=""
ARGS=("$@")
while (($#)); do
  case "$1" in
    --rounds) [[ $# -ge 2 && "$2" =~ ^[1-9][0-9]*$ ]] || { echo "--rounds needs a positive whole number" >&2; exit 2; }
              ROUNDS=$2; shift ;;
    --seconds) [[ $# -ge 2 && "$2" =~ ^[1-9][0-9]*$ && "$2" -le 600 ]] || { echo "--seconds needs whole seconds from 1 to 600" >&2; exit 2; }
               MEASURE_SECONDS=$2; shift ;;
    --quick) QUICK=1 ;;
    --keep) KEEP=1 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "unknown option: $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done

if ((QUICK)); then
  ROUNDS=${ROUNDS:-1}; MEASURE_SECONDS=${MEASURE_SECONDS:-2}; WARMUP=1
  CHANGE_SECONDS=15; RELOADS=3; SCALES=3; UPGRADES=1
else
  ROUNDS=${ROUNDS:-3}; MEASURE_SECONDS=${MEASURE_SECONDS:-10}; WARMUP=3
  CHANGE_SECONDS=120; RELOADS=20; SCALES=20; UPGRADES=5
fi
NPROC=$(nproc)
DNSPERF_CLIENTS=8       # dnsperf -c: client sockets (source ports), so that a reuseport group sees several 4-tuples
DNSPERF_OUTSTANDING=200 # dnsperf -q: queries in flight at most (closed loop)
DNSPERF_TIMEOUT=2       # dnsperf -t: seconds before a query counts as lost
DNS_RATE=20000          # load generator, DNS at a fixed rate: queries/s
ECHO_RATE=20000         # load generator, echo at a fixed rate: datagrams/s
ECHO_MAX_RATE=1000000   # load generator, echo at saturation: a rate no server reaches here ...
ECHO_MAX_IN_FLIGHT=256  # ... bounded by this many datagrams in flight (closed loop in effect)
ECHO_PAYLOAD=64         # bytes per echo datagram
FLOWS=8                 # load generator: client sockets
LOAD_TIMEOUT=1s         # load generator: a query without a reply this long after its send is lost
CHANGE_RATE=5000        # change run: queries/s, steady
CHANGE_TIMEOUT=2s       # change run: the loss criterion (a reply later than this is counted late, not answered)
CHANGE_MAX_IN_FLIGHT=10000
SEQUENCE=(1 3 2 4)      # change run: ShardRuntime's shard counts after each scale, starting from the core count
START_TIMEOUT=60        # seconds: the longest wait for a server to listen and answer
STOP_GRACE=20           # seconds between SIGTERM and SIGKILL
ZONE=shardruntime.test.

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
HELPER="$ROOT/bench/udp/report.py"
CONTROL_READY="$ROOT/bench/peers/report.py"   # its control-ready command: a node answers status on its socket
DOCS="$ROOT/docs/benchmarks.md"
PY=/usr/bin/python3
STARTED=$SECONDS
LOADAVG_START=$(cut -d' ' -f1 /proc/loadavg)

log() { printf '[udp %4ds] %s\n' "$((SECONDS - STARTED))" "$*"; }
die() { printf 'udp: %s\n' "$*" >&2; exit 1; }
now_ms() { date +%s%3N; }

# --- What the script needs ------------------------------------------------------------------------------------------
missing=()
command -v dnsperf >/dev/null || missing+=(dnsperf)
[[ -x /usr/sbin/nsd ]] || missing+=(nsd)
[[ -x /usr/sbin/knotd ]] || missing+=(knot)
command -v dig >/dev/null || missing+=(bind9-dnsutils)
[[ -x $PY ]] || missing+=(python3)
command -v ss >/dev/null || missing+=(iproute2)
command -v timeout >/dev/null || missing+=(coreutils)
if ((${#missing[@]})); then
  [[ $(id -u) -eq 0 ]] || die "missing ${missing[*]}; install them (apt-get install -y ${missing[*]}) or run as root"
  log "installing from Debian: ${missing[*]} (the packages' own services are not used)"
  DEBIAN_FRONTEND=noninteractive apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
fi
NSD=/usr/sbin/nsd
KNOTD=/usr/sbin/knotd
command -v nsd-control >/dev/null && command -v knotc >/dev/null || die "nsd-control or knotc missing (packages nsd, knot)"
command -v dotnet >/dev/null || die "the .NET 10 SDK (dotnet) is not installed; see README.md"

# Commit of what is measured: docs/benchmarks.md is this script's output, so it does not make the tree dirty.
if COMMIT=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null); then
  [[ -z $(git -C "$ROOT" status --porcelain -- . ':(exclude)docs/benchmarks.md' 2>/dev/null) ]] || COMMIT+="-dirty"
else
  COMMIT=unknown
fi

# --- Temporary directory and process tracking -----------------------------------------------------------------------
WORK=$(mktemp -d -t shardruntime-udp.XXXXXX)
mkdir -p "$WORK/raw"
OK=0
# PIDS, track, untrack, ours, alive, descendants_of, stop_pid (ShardRuntime's node after an upgrade is tracked too),
# sockets, wait_sockets, bounded
source "$ROOT/bench/procs.sh"

cleanup() {
  local rc=$? pid
  set +e
  trap - EXIT INT TERM
  for pid in "${PIDS[@]}"; do stop_pid "$pid" 10; done
  if ((OK && !KEEP)); then
    rm -rf "$WORK"
  else
    echo "udp: raw JSON, dnsperf outputs and server logs kept in $WORK" >&2
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- Build ----------------------------------------------------------------------------------------------------------
HOST_DLL=src/Host/bin/Release/net10.0/shardruntime.dll
LOADGEN=bench/LoadGen/bin/Release/net10.0/shardruntime-loadgen
ECHO_DLL=bench/Peers/UdpEcho/bin/Release/net10.0/peers-udpecho.dll
for project in src/Host bench/LoadGen bench/Peers/UdpEcho; do
  log "building $project (Release)"
  dotnet build -c Release "$project" >"$WORK/build.log" 2>&1 || { tail -30 "$WORK/build.log" >&2; die "dotnet build -c Release $project failed"; }
done
[[ -f $HOST_DLL && -x $LOADGEN && -f $ECHO_DLL ]] || die "build output missing: $HOST_DLL, $LOADGEN, $ECHO_DLL"
cli() { timeout 60 dotnet "$HOST_DLL" "$@"; }

# --- The zone and the query mix --------------------------------------------------------------------------------------
SERIAL=1
render_zone() { # DIR: the zone file NSD and Knot read, with the current serial
  sed -e "s|@SERIAL@|$SERIAL|g" "$ROOT/bench/udp/zone.template" >"$1/shardruntime.test.zone.new"
  mv "$1/shardruntime.test.zone.new" "$1/shardruntime.test.zone"
}
# The records of zone.template, for dns-static (its SOA is made from the zone apex and the TTL); @SERIAL@ as there.
DNS_STATIC="dns-static {
        zone = \"$ZONE\", ttl = 300s
        records {
          \"ns.$ZONE\" { A = [\"127.0.0.1\"] }
          \"localhost.$ZONE\" { A = [\"127.0.0.1\"], AAAA = [\"::1\"] }
          \"www.$ZONE\" { A = [\"127.0.0.2\", \"127.0.0.3\"] }
          \"txt.$ZONE\" { TXT = [\"shardruntime benchmark record\"] }
          \"serial.$ZONE\" { TXT = [\"@SERIAL@\"] }
        }
      }"
QUERIES="$WORK/queries.txt"
printf '%s\n' "localhost.$ZONE A" "localhost.$ZONE AAAA" "www.$ZONE A" "txt.$ZONE TXT" "missing.$ZONE A" >"$QUERIES"
QUERY_MIX="localhost A, localhost AAAA, www A, txt TXT, missing A (NXDOMAIN)"

# sr_config FILE PORT SHARDS KIND(dns|echo) SOCKET: a node with one UDP listener (dns: the current SERIAL).
sr_config() {
  local body
  if [[ $4 == dns ]]; then
    body="dns {
      endpoint = \"127.0.0.1:$2\", protocol = udp, handler = dns-static, shards = $3
      ${DNS_STATIC//@SERIAL@/$SERIAL}
    }"
  else
    body="echo { endpoint = \"127.0.0.1:$2\", protocol = udp, handler = udp-echo, shards = $3 }"
  fi
  cat >"$1.new" <<EOF
shard-runtime {
  listeners {
    $body
  }
  control.socket-path = "$5"
  shutdown.drain-timeout = 5s
}
EOF
  mv "$1.new" "$1"
}

# --- Does the host serve UDP? ----------------------------------------------------------------------------------------
SR_UDP=1
SR_SKIPPED=""
mkdir -p "$WORK/probe"
mapfile -t probe_ports < <($PY "$HELPER" freeport 2)
sr_config "$WORK/probe/dns.conf" "${probe_ports[0]}" 0 dns "$WORK/probe/control.sock"
sr_config "$WORK/probe/echo.conf" "${probe_ports[1]}" 0 echo "$WORK/probe/control.sock"
for kind in dns echo; do
  if ! cli check --config "$WORK/probe/$kind.conf" >"$WORK/probe/$kind.out" 2>&1; then
    if grep -Eqi "protocol.*(udp|only tcp)|(udp|datagram).*not (supported|served)" "$WORK/probe/$kind.out"; then
      SR_UDP=0
      SR_SKIPPED="the host at this commit refuses \`protocol = udp\` listeners (\`shardruntime check\` says: $(grep -E "protocol'" "$WORK/probe/$kind.out" | head -1 | sed 's/^error: [^ ]*: //' | cut -c1-300))."
      break
    fi
    cat "$WORK/probe/$kind.out" >&2
    die "shardruntime check refuses the $kind listener for another reason than protocol = udp (above); fix the script's configuration"
  fi
done
if ((SR_UDP)); then
  log "the host takes protocol = udp listeners: ShardRuntime is measured"
else
  log "SKIPPING every ShardRuntime part: $SR_SKIPPED"
fi

# --- Servers --------------------------------------------------------------------------------------------------------
SERVER=""       # the running server's name
SERVER_PID=""   # its root process (NSD: the process that forks main and servers; ShardRuntime: the current node)
SERVER_DIR=""
SOCKETS=0       # UDP sockets it should have on PORT
PORT=""


dns_ready() { # port seconds: the server answers localhost.shardruntime.test. A 127.0.0.1
  local i
  for ((i = 0; i < $2; i++)); do
    [[ $(dig +short +time=1 +tries=1 @127.0.0.1 -p "$1" "localhost.$ZONE" A 2>/dev/null) == 127.0.0.1 ]] && return 0
    sleep 0.2
  done
  return 1
}

# launch NAME: starts the server NAME in SERVER_DIR on PORT in the background (no waiting), sets SERVER_PID.
launch() {
  case $1 in
    sr-*|shardruntime)
      dotnet "$HOST_DLL" run --config "$SERVER_DIR/shardruntime.conf" >>"$SERVER_DIR/server.log" 2>&1 &
      SERVER_PID=$! ;;
    nsd)
      "$NSD" -d -c "$SERVER_DIR/nsd.conf" >>"$SERVER_DIR/server.log" 2>&1 &
      SERVER_PID=$! ;;
    knot)
      "$KNOTD" -c "$SERVER_DIR/knot.conf" >>"$SERVER_DIR/server.log" 2>&1 &
      SERVER_PID=$! ;;
    dotnet-echo-*)
      dotnet "$ECHO_DLL" "$PORT" "$SOCKETS" >>"$SERVER_DIR/server.log" 2>&1 &
      SERVER_PID=$! ;;
    *) die "unknown server $1" ;;
  esac
  track "$SERVER_PID"
}

# wait_ready NAME KIND(dns|echo): listening with all its sockets (and answering DNS).
wait_ready() {
  if [[ $1 == sr-* || $1 == shardruntime ]]; then
    $PY "$CONTROL_READY" control-ready "$SERVER_DIR/control.sock" "$START_TIMEOUT" \
      || { tail -20 "$SERVER_DIR/server.log" >&2; die "$1: the node's control socket did not answer status within ${START_TIMEOUT} s"; }
  fi
  wait_sockets udp "$PORT" "$SOCKETS" "$START_TIMEOUT" "$SERVER_PID" \
    || { tail -20 "$SERVER_DIR/server.log" "$SERVER_DIR"/*.log 2>/dev/null >&2; die "$1: not $SOCKETS UDP sockets on port $PORT within ${START_TIMEOUT} s (ss: $(sockets udp "$PORT"))"; }
  if [[ $2 == dns ]]; then
    dns_ready "$PORT" 50 || die "$1: dig @127.0.0.1 -p $PORT localhost.$ZONE A does not answer 127.0.0.1"
  fi
}

# start_server NAME TAG: on a fresh port, in its own directory; returns once it listens (and answers DNS).
start_server() {
  local name=$1 kind=dns shards
  SERVER=$name
  SERVER_DIR="$WORK/$name-$2"
  mkdir -p "$SERVER_DIR"
  PORT=$($PY "$HELPER" freeport)
  SOCKETS=$NPROC
  [[ $name == *-single ]] && SOCKETS=1
  [[ $name == *echo* ]] && kind=echo
  case $name in
    sr-*|shardruntime)
      shards=$SOCKETS
      sr_config "$SERVER_DIR/shardruntime.conf" "$PORT" "$shards" "$kind" "$SERVER_DIR/control.sock" ;;
    nsd)
      render_zone "$SERVER_DIR"
      sed -e "s|@DIR@|$SERVER_DIR|g" -e "s|@PORT@|$PORT|g" -e "s|@THREADS@|$NPROC|g" "$ROOT/bench/udp/nsd.conf.template" >"$SERVER_DIR/nsd.conf"
      nsd-checkconf "$SERVER_DIR/nsd.conf" || die "nsd-checkconf rejects $SERVER_DIR/nsd.conf" ;;
    knot)
      render_zone "$SERVER_DIR"
      mkdir -p "$SERVER_DIR/db"
      sed -e "s|@DIR@|$SERVER_DIR|g" -e "s|@PORT@|$PORT|g" -e "s|@THREADS@|$NPROC|g" "$ROOT/bench/udp/knot.conf.template" >"$SERVER_DIR/knot.conf"
      knotc -c "$SERVER_DIR/knot.conf" conf-check >/dev/null || die "knotc conf-check rejects $SERVER_DIR/knot.conf" ;;
  esac
  launch "$name"
  wait_ready "$name" "$kind"
}

# --- Load -----------------------------------------------------------------------------------------------------------
dnsperf_run() { # OUT SECONDS
  bounded timeout -k 5 $(($2 + DNSPERF_TIMEOUT + 30)) dnsperf -s 127.0.0.1 -p "$PORT" -d "$QUERIES" -l "$2" \
    -c "$DNSPERF_CLIENTS" -q "$DNSPERF_OUTSTANDING" -t "$DNSPERF_TIMEOUT" -T 1 -O suppress=timeouts >"$1" 2>&1 \
    || die "dnsperf failed (exit $?) against $SERVER; see $1"
}

loadgen_run() { # JSON OUT SECONDS PROTOCOL RATE MAX_IN_FLIGHT TIMEOUT
  local what=(--payload-bytes "$ECHO_PAYLOAD")
  [[ $4 == dns ]] && what=(--dns-name "localhost.$ZONE" --dns-expect-address 127.0.0.1)
  bounded timeout -k 5 $(($3 + 60)) "$LOADGEN" --target "127.0.0.1:$PORT" --mode udp --protocol "$4" "${what[@]}" \
    --rate "$5" --max-in-flight "$6" --flows "$FLOWS" --timeout "$7" --duration "${3}s" --json "$1" --progress >"$2" 2>&1 \
    || die "the load generator failed (exit $?) against $SERVER; see $2"
  [[ -s $1 ]] || die "the load generator wrote no summary against $SERVER; see $2"
}

# measure ROUND POSITION SCENARIO
measure() {
  local base="$WORK/raw/r$1-$SERVER" kind=$3 common
  common=("server=$SERVER" "round=$1" "position=$2" "sockets=$SOCKETS")
  case $kind in
    dnsperf)
      dnsperf_run "$base-dnsperf.txt" "$MEASURE_SECONDS"
      $PY "$HELPER" dnsperf-record "$base-dnsperf.txt" "$base-$kind.json" "${common[@]}" ;;
    dnsrate)
      loadgen_run "$base-dnsrate.loadgen.json" "$base-dnsrate.txt" "$MEASURE_SECONDS" dns "$DNS_RATE" 4000 "$LOAD_TIMEOUT"
      $PY "$HELPER" loadgen-record "$base-dnsrate.loadgen.json" "$base-$kind.json" "${common[@]}" ;;
    echomax)
      loadgen_run "$base-echomax.loadgen.json" "$base-echomax.txt" "$MEASURE_SECONDS" echo "$ECHO_MAX_RATE" "$ECHO_MAX_IN_FLIGHT" "$LOAD_TIMEOUT"
      $PY "$HELPER" loadgen-record "$base-echomax.loadgen.json" "$base-$kind.json" "${common[@]}" ;;
    echorate)
      loadgen_run "$base-echorate.loadgen.json" "$base-echorate.txt" "$MEASURE_SECONDS" echo "$ECHO_RATE" 4000 "$LOAD_TIMEOUT"
      $PY "$HELPER" loadgen-record "$base-echorate.loadgen.json" "$base-$kind.json" "${common[@]}" ;;
  esac
  log "  $kind: $($PY "$HELPER" line "$base-$kind.json")"
  alive "$SERVER_PID" || die "$SERVER exited during $kind; see its log in $SERVER_DIR"
}

DNS_SERVERS=(nsd knot)
ECHO_SERVERS=(dotnet-echo-sharded dotnet-echo-single)
if ((SR_UDP)); then
  DNS_SERVERS=(sr-sharded sr-single nsd knot)
  ECHO_SERVERS=(sr-echo-sharded sr-echo-single dotnet-echo-sharded dotnet-echo-single)
fi

ORDERS=()
for ((r = 1; r <= ROUNDS; r++)); do
  for group in dns echo; do
    if [[ $group == dns ]]; then servers=("${DNS_SERVERS[@]}"); else servers=("${ECHO_SERVERS[@]}"); fi
    rotated order "$r" "${servers[@]}"
    ORDERS+=("round $r $group: ${order[*]}")
    log "round $r of $ROUNDS, $group: ${order[*]}"
    pos=0
    for server in "${order[@]}"; do
      pos=$((pos + 1))
      start_server "$server" "r$r"
      log "$server (PID $SERVER_PID) on 127.0.0.1:$PORT/udp, $SOCKETS socket(s): warm-up ${WARMUP} s"
      if [[ $group == dns ]]; then
        dnsperf_run "$WORK/raw/r$r-$server-warmup.txt" "$WARMUP"
        measure "$r" "$pos" dnsperf
        measure "$r" "$pos" dnsrate
      else
        loadgen_run "$WORK/raw/r$r-$server-warmup.json" "$WORK/raw/r$r-$server-warmup.txt" "$WARMUP" echo "$ECHO_RATE" 4000 "$LOAD_TIMEOUT"
        measure "$r" "$pos" echomax
        measure "$r" "$pos" echorate
      fi
      stop_server
    done
  done
done

# --- Change run -----------------------------------------------------------------------------------------------------
SLOTS=$((RELOADS + SCALES + UPGRADES))
INTERVAL_MS=$((CHANGE_SECONDS * 1000 / (SLOTS + 1)))
KINDS=()   # the change in each slot (ShardRuntime's name for it): upgrades evenly spread, reloads and scales alternating
declare -A upgrade_slot=()
for ((i = 0; i < UPGRADES; i++)); do upgrade_slot[$(((2 * i + 1) * SLOTS / (2 * UPGRADES) + 1))]=1; done
nr=0; ns=0
for ((k = 1; k <= SLOTS; k++)); do
  if [[ -n ${upgrade_slot[$k]:-} ]]; then KINDS+=(upgrade)
  elif ((nr <= ns && nr < RELOADS)) || ((ns >= SCALES)); then KINDS+=(reload); nr=$((nr + 1))
  else KINDS+=(scale); ns=$((ns + 1)); fi
done
udp_rcvbuf_errors() { awk '/^Udp:/ {if (!h) {for (i = 1; i <= NF; i++) if ($i == "RcvbufErrors") c = i; h = 1} else print $c}' /proc/net/snmp; }

# change SERVER KIND TO COUNT: one change through the server's own tool, in this shell (a restart replaces
# SERVER_PID); sets CHANGE_WHAT, CHANGE_RC and CHANGE_OUT (one line). ShardRuntime's config file always says the
# current shard count (a reload reads it again, an upgrade's successor starts from it), and each reload comes with
# a new serial in it (a TXT record), as the peers' zone reloads come with a new SOA serial.
change() {
  local out="" rc=0 what conf="$SERVER_DIR/shardruntime.conf"
  case $1 in
    shardruntime)
      case $2 in
        reload)
          SERIAL=$((SERIAL + 1))
          sr_config "$conf" "$PORT" "$4" dns "$SERVER_DIR/control.sock"
          what="reload dns (serial $SERIAL)"
          out=$(cli reload dns --control-socket "$SERVER_DIR/control.sock" 2>&1) || rc=$? ;;
        scale)
          what="scale dns $3"
          out=$(cli scale dns "$3" --control-socket "$SERVER_DIR/control.sock" 2>&1) || rc=$?
          if ((rc == 0)); then sr_config "$conf" "$PORT" "$3" dns "$SERVER_DIR/control.sock"; fi ;;
        upgrade) what="upgrade"; out=$(cli upgrade --control-socket "$SERVER_DIR/control.sock" 2>&1) || rc=$? ;;
      esac ;;
    nsd|knot)
      if [[ $2 == upgrade ]]; then
        what="restart"
        stop_server
        launch "$1"
        if wait_sockets udp "$PORT" "$SOCKETS" 30 "$SERVER_PID" && dns_ready "$PORT" 50; then
          out="listening and answering again (PID $SERVER_PID)"
        else
          rc=1; out="not listening and answering 30 s after the restart"
        fi
      else
        SERIAL=$((SERIAL + 1))
        render_zone "$SERVER_DIR"
        what="zone reload (serial $SERIAL)"
        if [[ $1 == nsd ]]; then
          out=$(timeout 30 nsd-control -c "$SERVER_DIR/nsd.conf" reload 2>&1) || rc=$?
        else
          out=$(timeout 30 knotc -c "$SERVER_DIR/knot.conf" reload 2>&1) || rc=$?
        fi
      fi ;;
  esac
  CHANGE_WHAT=$what
  CHANGE_RC=$rc
  CHANGE_OUT=$(printf '%s' "$out" | tr '\t\n' '  ' | cut -c1-300)
}

OLD_NODES=()
# After an upgrade the node is the successor process: track it by the PID its status gives.
follow_upgrade() {
  local pid
  pid=$(cli status --json --control-socket "$SERVER_DIR/control.sock" 2>/dev/null \
        | $PY -c 'import json, sys; print(json.load(sys.stdin)["processId"])' 2>/dev/null) || return 1
  [[ $pid =~ ^[0-9]+$ ]] || return 1
  if [[ $pid != "$SERVER_PID" ]]; then track "$pid"; OLD_NODES+=("$SERVER_PID"); SERVER_PID=$pid; fi
}

# The moments of the changes (ms from the start of the stream), by slot: evenly spread, until ShardRuntime's run
# replaces them with the moments its changes really started (an upgrade takes its CLI 10 s or more, and the next
# change comes at least an interval after it ended), so that NSD and Knot are changed at the same moments.
MOMENTS=()
for ((k = 1; k <= SLOTS; k++)); do MOMENTS[k]=$((k * INTERVAL_MS)); done

# scenario SERVER: the stream runs until one interval after the last change (at least CHANGE_SECONDS), then it is
# ended by SIGINT (the load generator then lets the queries in flight end and writes its summary).
scenario() {
  local server=$1 json="$WORK/raw/change-$1.loadgen.json" progress="$WORK/raw/change-$1.txt"
  local changes="$WORK/changes-$1.tsv" count=$NPROC j=0 k kind to t0 wait_ms start end pid rc=0 drops0 last=0 i
  : >"$changes"
  start_server "$server" change
  log "change run $server (PID $SERVER_PID) on 127.0.0.1:$PORT/udp: warm-up ${WARMUP} s"
  loadgen_run "$WORK/raw/change-$server-warmup.json" "$WORK/raw/change-$server-warmup.txt" "$WARMUP" dns "$CHANGE_RATE" "$CHANGE_MAX_IN_FLIGHT" "$CHANGE_TIMEOUT"
  log "change run $server: $CHANGE_RATE queries/s, $SLOTS changes at ${MOMENTS[*]} ms"
  drops0=$(udp_rcvbuf_errors)
  set -m   # its own process group while it starts: a background job of a non-interactive shell would ignore SIGINT
  timeout -k 5 $((CHANGE_SECONDS + 900)) "$LOADGEN" --target "127.0.0.1:$PORT" --mode udp --protocol dns \
    --dns-name "localhost.$ZONE" --dns-expect-address 127.0.0.1 --rate "$CHANGE_RATE" --flows "$FLOWS" \
    --max-in-flight "$CHANGE_MAX_IN_FLIGHT" --timeout "$CHANGE_TIMEOUT" --duration "$((CHANGE_SECONDS + 840))s" \
    --json "$json" --progress >"$progress" 2>&1 &
  pid=$!
  set +m
  track "$pid"
  # The schedule starts with the stream: its first progress line comes 1 s after its first query.
  for ((i = 0; i < 600; i++)); do [[ -s $progress ]] && break; alive "$pid" || break; sleep 0.05; done
  [[ -s $progress ]] || die "the load generator printed no progress within 30 s of its start in the $server change run; see $progress"
  t0=$(($(now_ms) - 1000))
  for ((k = 1; k <= SLOTS; k++)); do
    kind=${KINDS[k - 1]}
    to=""
    if [[ $kind == scale ]]; then to=${SEQUENCE[j % ${#SEQUENCE[@]}]}; j=$((j + 1)); fi
    # ShardRuntime: at its moment, but at least an interval after the previous change ended (a slow upgrade shifts
    # the rest of the schedule instead of bunching changes up); the peers: at ShardRuntime's moments.
    if [[ $server == shardruntime ]] && ((last + INTERVAL_MS > MOMENTS[k])); then MOMENTS[k]=$((last + INTERVAL_MS)); fi
    wait_ms=$((t0 + MOMENTS[k] - $(now_ms)))
    if ((wait_ms > 0)); then sleep "$(printf '%d.%03d' $((wait_ms / 1000)) $((wait_ms % 1000)))"; fi
    alive "$pid" || die "the load generator ended before change $k of the $server change run; see $progress"
    start=$(now_ms)
    change "$server" "$kind" "$to" "$count"
    end=$(now_ms)
    if [[ $server == shardruntime && $kind == upgrade ]]; then follow_upgrade || log "  status --json after the upgrade failed"; fi
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$k" "$((start - t0))" "$kind" "$CHANGE_WHAT" "$CHANGE_RC" "$((end - start))" "$CHANGE_OUT" "$start" >>"$changes"
    log "  $server change $k at $(((start - t0) / 1000)).$(printf '%03d' $(((start - t0) % 1000)))s: $CHANGE_WHAT: exit $CHANGE_RC (${CHANGE_OUT:0:120}) [$((end - start)) ms]"
    if [[ $kind == scale && $CHANGE_RC -eq 0 ]]; then count=$to; fi
    if [[ $server == shardruntime ]]; then MOMENTS[k]=$((start - t0)); fi
    last=$((end - t0))
  done
  # One more interval of steady stream after the last change (and at least CHANGE_SECONDS in all), then SIGINT.
  wait_ms=$((t0 + (last + INTERVAL_MS > CHANGE_SECONDS * 1000 ? last + INTERVAL_MS : CHANGE_SECONDS * 1000) - $(now_ms)))
  if ((wait_ms > 0)); then sleep "$(printf '%d.%03d' $((wait_ms / 1000)) $((wait_ms % 1000)))"; fi
  kill -INT "$pid" 2>/dev/null || true
  wait "$pid" || rc=$?
  untrack "$pid"
  [[ $rc -eq 0 && -s $json ]] || die "the load generator failed (exit $rc) during the $server change run; see $progress"
  $PY "$HELPER" loadgen-record "$json" "$WORK/raw/change-$server.json" "server=$server" "sockets=$count" \
    "udp_rcvbuf_errors=$(($(udp_rcvbuf_errors) - drops0))"
  log "change run $server: $($PY "$HELPER" line "$WORK/raw/change-$server.json")"
  stop_server
  for pid in "${OLD_NODES[@]}"; do   # predecessors of upgrades: they drain and exit by themselves
    alive "$pid" && ours "$pid" && log "  predecessor PID $pid is still running: stopping it"
    stop_pid "$pid" 5
    untrack "$pid"
  done
  OLD_NODES=()
}

log "change-run schedule: ${KINDS[*]}"
if ((SR_UDP)); then scenario shardruntime; else log "change run shardruntime SKIPPED: $SR_SKIPPED"; fi
scenario nsd
scenario knot

# --- Report ---------------------------------------------------------------------------------------------------------
ELAPSED=$((SECONDS - STARTED))
meta() { printf '%s\t%s\n' "$1" "$2" >>"$WORK/meta.tsv"; }
: >"$WORK/meta.tsv"
meta command "bench/udp.sh${ARGS[*]:+ ${ARGS[*]}}"
meta date "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
meta commit "$COMMIT"
meta quick "$QUICK"
$PY "$ROOT/bench/benchdoc.py" machine >>"$WORK/meta.tsv"   # nproc, cpu, memory, kernel, dotnet
meta loadavg "$LOADAVG_START at the start, $(cut -d' ' -f1 /proc/loadavg) at the end"
meta nsd "NSD $("$NSD" -v 2>&1 | head -1 | grep -Eo '[0-9]+\.[0-9]+\.[0-9]+' | head -1)"
meta knot "Knot DNS $("$KNOTD" -V 2>&1 | grep -Eo '[0-9]+\.[0-9]+\.[0-9]+' | head -1)"
meta dnsperf "dnsperf $(dnsperf -h 2>&1 | grep -Eo 'Version [0-9.]+' | head -1 | cut -d' ' -f2)"
meta sysctls "$(for k in net.core.rmem_default net.core.rmem_max net.core.wmem_default; do printf '%s = %s, ' "$k" "$(sysctl -n "$k" 2>/dev/null || echo n/a)"; done | sed 's/, $//')"
meta sr_skipped "$SR_SKIPPED"
meta rounds "$ROUNDS"
meta seconds "$MEASURE_SECONDS"
meta warmup "$WARMUP"
meta orders "$(IFS=';'; echo "${ORDERS[*]}" | sed 's/;/; /g')"
meta query_mix "$QUERY_MIX"
meta dnsperf_args "\`dnsperf -c $DNSPERF_CLIENTS -q $DNSPERF_OUTSTANDING -t $DNSPERF_TIMEOUT -T 1 -l $MEASURE_SECONDS\`"
meta dns_rate_args "\`--protocol dns --rate $DNS_RATE --flows $FLOWS --max-in-flight 4000 --timeout $LOAD_TIMEOUT\`, $MEASURE_SECONDS s"
meta echo_max_args "\`--protocol echo --payload-bytes $ECHO_PAYLOAD --rate $ECHO_MAX_RATE --max-in-flight $ECHO_MAX_IN_FLIGHT --flows $FLOWS --timeout $LOAD_TIMEOUT\`, $MEASURE_SECONDS s"
meta echo_rate_args "\`--protocol echo --payload-bytes $ECHO_PAYLOAD --rate $ECHO_RATE --flows $FLOWS --max-in-flight 4000 --timeout $LOAD_TIMEOUT\`, $MEASURE_SECONDS s"
meta change_args "\`--protocol dns --rate $CHANGE_RATE --flows $FLOWS --max-in-flight $CHANGE_MAX_IN_FLIGHT --timeout $CHANGE_TIMEOUT\`"
meta change_seconds "$CHANGE_SECONDS"
meta change_interval "$(printf '%d.%02d' $((INTERVAL_MS / 1000)) $((INTERVAL_MS % 1000 / 10)))"
meta change_moments "$(for ((k = 1; k <= SLOTS; k++)); do printf '%d.%d ' $((MOMENTS[k] / 1000)) $((MOMENTS[k] % 1000 / 100)); done | sed 's/ $//')"
meta change_counts "In all: $RELOADS reloads, $SCALES scales, $UPGRADES upgrade(s) of ShardRuntime (the peers: $((RELOADS + SCALES)) reloads, $UPGRADES restart(s))"
meta change_sequence "$NPROC -> $(for ((j = 0; j < SCALES; j++)); do printf '%s ' "${SEQUENCE[j % ${#SEQUENCE[@]}]}"; done | sed 's/ $//; s/ / -> /g')"
meta elapsed "$((ELAPSED / 60)) min $((ELAPSED % 60)) s"

$PY "$HELPER" render "$WORK" "$DOCS"
log "done in $((SECONDS - STARTED)) s"
OK=1
