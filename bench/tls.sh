#!/usr/bin/env bash
# bench/tls.sh: ShardRuntime over TLS against nginx and Kestrel (same certificate, same negotiated protocol and cipher),
# and ShardRuntime's async handler style against its span style, in one run.
#
# 1. Installs what it needs from Debian when missing (wrk, nginx-light, openssl, gcc, libc6-dev, python3, iproute2),
#    builds Release: src/Host, bench/LoadGen, bench/Peers/Kestrel, and compiles bench/tls/noresume.c (below). Makes
#    one certificate with openssl in its temporary directory, ECDSA P-256 (prime256v1), self-signed for localhost and
#    127.0.0.1; every server is given the same certificate and key (PEM).
# 2. Pins the client side: an OpenSSL configuration (OPENSSL_CONF) that wrk and the probe load offers one protocol,
#    one cipher and one key-exchange group (default TLS 1.3, TLS_AES_128_GCM_SHA256, X25519; --tls12: TLS 1.2,
#    ECDHE-ECDSA-AES128-GCM-SHA256, X25519 and P-256, which TLS 1.2 needs listed for a P-256 certificate), so every
#    server negotiates the same.
# 3. Asks the host (`shardruntime check`) whether it takes a listener's `tls { certificate, key }` block and the
#    `echo-async` handler. What it refuses is skipped with the host's own message; the rest is still measured.
# 4. Rounds (each group's servers take turns, the order rotated by one each round; each turn starts the server afresh
#    on a free loopback port, tracked by PID, and ends it by PID):
#      TLS    sr-tls       ShardRuntime, http-ok behind tls { certificate, key }, shards = 0 (cores)
#             nginx-tls    nginx, 2 workers, listen ... ssl reuseport, return 200 "OK" (http-ok's 2-byte body)
#             kestrel-tls  bench/Peers/Kestrel --https CERT KEY
#           probe (openssl s_client: negotiated protocol, cipher, key exchange, signature, the reply; the server
#           must close the connection itself after a Connection: close reply; a second connection offers the first
#           one's session: whether the server would resume is recorded), warm-up, then
#             ka   wrk -t2 -c32 https://127.0.0.1:PORT/: TLS keep-alive requests/s and latency
#             hs   the same with -H 'Connection: close': TLS handshakes/s (counts the replies that say close)
#      echo   sr-echo (built-in echo, the span style) and sr-echo-async (built-in echo-async, the async style), plain
#             TCP, shards = 0: shardruntime-loadgen --mode keepalive --protocol echo, 32 connections, 1 in flight each
#    with the server's CPU time per request (from /proc) and the load generator's (wrk or shardruntime-loadgen, from
#    the shell's `times`) for every measurement: they share the machine's cores.
# 5. Prints the tables (medians of the rounds with min–max), the ratios to the targets of issue 17 (TLS keep-alive
#    >= 0.9x nginx and >= 1.2x Kestrel, handshakes/s >= 0.8x nginx) and the async style's overhead, and rewrites the
#    tls section of docs/benchmarks.md (through bench/benchdoc.py).
#
# wrk and session resumption: wrk keeps one OpenSSL SSL object per connection and calls SSL_shutdown and SSL_clear
# between connections, which keeps the session, so every reconnect offers it: a server that allows resumption would
# be measured on abbreviated handshakes (.NET's SslStream resumes TLS 1.3 sessions by default; nginx without a
# session cache or tickets does not; the probe records which would). So wrk runs with bench/tls/noresume.c
# preloaded, which drops the session before each handshake: every server makes a full handshake per connection. The
# script checks this at the start against an nginx that does resume (wrk alone resumes there; with the wrapper, no
# connection may), and the probe records whether each server would have resumed.
#
# Usage: bench/tls.sh [--rounds N] [--duration S] [--quick] [--keep] [--tls12]
#   --rounds N    rounds (default 3; --quick: 2)
#   --duration S  seconds per measurement (default 8; --quick: 2)
#   --quick       a short trial: 2 rounds, 2 s measurements, 1 s warm-ups; its docs/benchmarks.md section says so
#   --keep        keep the temporary directory (certificate, raw JSON, wrk outputs, server logs) even when it succeeds
#   --tls12       pin TLS 1.2 (ECDHE-ECDSA-AES128-GCM-SHA256) instead of TLS 1.3 (TLS_AES_128_GCM_SHA256)
set -euo pipefail

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }

QUICK=0
KEEP=0
TLS12=0
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
    --tls12) TLS12=1 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "unknown option: $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done

if ((QUICK)); then
  ROUNDS=${ROUNDS:-2}; DURATION=${DURATION:-2}; WARMUP=1; WARMUP_HS=2
else
  # Handshakes warm up longer: a .NET server's handshake path (SslStream, OpenSSL interop, connection set-up and
  # close) goes on being recompiled by the tiered JIT for about 20 s at ~600 handshakes/s on 2 cores (seen with
  # DOTNET_JitDisasmSummary=1 DOTNET_JitStdOutFile=F: the count of compiled methods stops growing after ~20 s), and
  # the JIT's CPU then shows as handshake CPU. nginx gets the same warm-up; the steady state is what is compared.
  ROUNDS=${ROUNDS:-3}; DURATION=${DURATION:-8}; WARMUP=5; WARMUP_HS=25
fi
TLS_SERVERS=(sr-tls nginx-tls kestrel-tls)
ECHO_SERVERS=(sr-echo sr-echo-async)
CONNECTIONS=32       # wrk -c and the echo load's --connections
ECHO_PAYLOAD=64      # bytes per echo
WRK_TIMEOUT=5s       # wrk: a reply later than this counts as a timeout error
START_TIMEOUT=60     # seconds: the longest wait for a server to listen and answer
STOP_GRACE=20        # seconds between SIGTERM and SIGKILL
DRAIN_WAIT=30        # seconds: the longest wait for a server's connections to go after a measurement
# The cipher preference nginx and Kestrel are given (bench/Peers/Kestrel's TlsPeer.CipherPreference, same order).
CIPHERS13=TLS_AES_128_GCM_SHA256:TLS_AES_256_GCM_SHA384:TLS_CHACHA20_POLY1305_SHA256
CIPHERS12=ECDHE-ECDSA-AES128-GCM-SHA256:ECDHE-ECDSA-AES256-GCM-SHA384:ECDHE-ECDSA-CHACHA20-POLY1305
if ((TLS12)); then
  # TLS 1.2 lets an ECDSA certificate be used only on a curve the client lists (RFC 8422), so P-256 is offered too;
  # the key exchange the servers chose is in the probe table.
  PIN_PROTOCOL=TLSv1.2; PIN_CIPHER=ECDHE-ECDSA-AES128-GCM-SHA256; PIN_GROUPS=X25519:P-256
else
  PIN_PROTOCOL=TLSv1.3; PIN_CIPHER=TLS_AES_128_GCM_SHA256; PIN_GROUPS=X25519
fi

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
HELPER="$ROOT/bench/tls/report.py"
PEERS_HELPER="$ROOT/bench/peers/report.py"   # freeport, control-ready, wrk-record
LUA="$ROOT/bench/peers/wrk.lua"
TEMPLATE="$ROOT/bench/tls/nginx.conf.template"
DOCS="$ROOT/docs/benchmarks.md"
PY=/usr/bin/python3
STARTED=$SECONDS
LOADAVG_START=$(cut -d' ' -f1 /proc/loadavg)

log() { printf '[tls %4ds] %s\n' "$((SECONDS - STARTED))" "$*"; }
die() { printf 'tls: %s\n' "$*" >&2; exit 1; }

# --- What the script needs ------------------------------------------------------------------------------------------
missing=()
command -v wrk >/dev/null || missing+=(wrk)
[[ -x /usr/sbin/nginx ]] || command -v nginx >/dev/null || missing+=(nginx-light)
command -v openssl >/dev/null || missing+=(openssl)
command -v cc >/dev/null || missing+=(gcc)
[[ -f /usr/include/dlfcn.h ]] || missing+=(libc6-dev)
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
"$NGINX" -V 2>&1 | grep -q -- --with-http_ssl_module || die "$NGINX is built without the ssl module (install nginx-light or nginx)"
command -v dotnet >/dev/null || die "the .NET 10 SDK (dotnet) is not installed; see README.md"
ldd "$(command -v wrk)" | grep -q 'libssl\.so' \
  || die "$(command -v wrk) does not link libssl dynamically, so bench/tls/noresume.c cannot keep it from resuming sessions (use Debian's wrk)"

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
WORK=$(mktemp -d -t shardruntime-tls.XXXXXX)
chmod 711 "$WORK"
mkdir -p "$WORK/raw" "$WORK/tls"
OK=0
source "$ROOT/bench/procs.sh"   # PIDS, track, untrack, alive, stop_pid (nginx's workers with their master), wait_sockets, bounded, stop_server, established, drained, snap, client_cpu

cleanup() {
  local rc=$? pid
  set +e
  trap - EXIT INT TERM
  for pid in "${PIDS[@]}"; do stop_pid "$pid" 10; done
  if ((OK && !KEEP)); then
    rm -rf "$WORK"
  else
    echo "tls: certificate, raw JSON, wrk outputs and server logs kept in $WORK" >&2
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# --- Build ----------------------------------------------------------------------------------------------------------
HOST_DLL=src/Host/bin/Release/net10.0/shardruntime.dll
LOADGEN=bench/LoadGen/bin/Release/net10.0/shardruntime-loadgen
KESTREL_DLL=bench/Peers/Kestrel/bin/Release/net10.0/peers-kestrel.dll
for project in src/Host bench/LoadGen bench/Peers/Kestrel; do
  log "building $project (Release)"
  dotnet build -c Release "$project" >"$WORK/build.log" 2>&1 || { tail -30 "$WORK/build.log" >&2; die "dotnet build -c Release $project failed"; }
done
[[ -f $HOST_DLL && -x $LOADGEN && -f $KESTREL_DLL ]] || die "build output missing: $HOST_DLL, $LOADGEN, $KESTREL_DLL"
NORESUME="$WORK/noresume.so"
cc -shared -fPIC -O2 -Wall -Wextra -Werror -o "$NORESUME" bench/tls/noresume.c -ldl >"$WORK/cc.log" 2>&1 \
  || { cat "$WORK/cc.log" >&2; die "cc could not build bench/tls/noresume.c"; }
cli() { timeout 60 env -u OPENSSL_CONF dotnet "$HOST_DLL" "$@"; }

# --- Certificate and the client's pin -------------------------------------------------------------------------------
CERT="$WORK/tls/cert.pem"
KEY="$WORK/tls/key.pem"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 2 -subj /CN=localhost \
  -addext subjectAltName=DNS:localhost,IP:127.0.0.1 -keyout "$KEY" -out "$CERT" >"$WORK/tls/openssl.log" 2>&1 \
  || { cat "$WORK/tls/openssl.log" >&2; die "openssl could not make the certificate"; }
chmod 755 "$WORK/tls"; chmod 644 "$CERT" "$KEY"   # a throw-away key: nginx's workers and every server read it
log "certificate: $(openssl x509 -in "$CERT" -noout -text | grep -E 'Public Key Algorithm|NIST CURVE' | sed 's/^ *//' | paste -sd, -)"

export OPENSSL_CONF="$WORK/tls/client.cnf"   # read by wrk and by openssl s_client (the probe); not by the servers
{
  echo "# bench/tls.sh: the client side's pin (wrk and the probe)."
  echo "openssl_conf = openssl_init"
  echo "[openssl_init]"
  echo "ssl_conf = ssl_sect"
  echo "[ssl_sect]"
  echo "system_default = system_default_sect"
  echo "[system_default_sect]"
  echo "MinProtocol = $PIN_PROTOCOL"
  echo "MaxProtocol = $PIN_PROTOCOL"
  if ((TLS12)); then echo "CipherString = $PIN_CIPHER"; else echo "Ciphersuites = $PIN_CIPHER"; fi
  echo "Groups = $PIN_GROUPS"
} >"$OPENSSL_CONF"
CLIENT_PIN="$PIN_PROTOCOL only, cipher $PIN_CIPHER only, key-exchange groups $PIN_GROUPS only"
server_env() { env -u OPENSSL_CONF "$@"; }   # servers keep the system's OpenSSL configuration

# --- What the host takes --------------------------------------------------------------------------------------------
# sr_config FILE PORT KIND(tls|echo|echo-async) SOCKET: a node with one listener.
sr_config() {
  local listener
  case $3 in
    tls) listener="https {
      endpoint = \"127.0.0.1:$2\", handler = http-ok, shards = 0, idle-timeout = 300s
      tls { certificate = \"$CERT\", key = \"$KEY\" }
    }" ;;
    *) listener="echo { endpoint = \"127.0.0.1:$2\", handler = $3, shards = 0, idle-timeout = 300s }" ;;
  esac
  cat >"$1" <<EOF
shard-runtime {
  listeners {
    $listener
  }
  control.socket-path = "$4"
  shutdown.drain-timeout = 5s
}
EOF
}

SR_TLS_SKIPPED=""
SR_ASYNC_SKIPPED=""
mkdir -p "$WORK/probe"
probe_port=$($PY "$PEERS_HELPER" freeport 1)
for kind in tls echo echo-async; do
  sr_config "$WORK/probe/$kind.conf" "$probe_port" "$kind" "$WORK/probe/control.sock"
  if cli check --config "$WORK/probe/$kind.conf" >"$WORK/probe/$kind.out" 2>&1; then continue; fi
  said=$(grep -E '^error: ' "$WORK/probe/$kind.out" | head -1 | sed 's/^error: [^ ]*: //' | cut -c1-300)
  if [[ $kind == tls ]] && grep -Eq "listeners\.https\.tls'?: is not a known key" "$WORK/probe/$kind.out"; then
    SR_TLS_SKIPPED="the host at this commit refuses a listener's \`tls\` block (\`shardruntime check\` says: $said)."
  elif [[ $kind == echo-async ]] && grep -q "unknown handler 'echo-async'" "$WORK/probe/$kind.out"; then
    SR_ASYNC_SKIPPED="the host at this commit has no \`echo-async\` handler (\`shardruntime check\` says: $said)."
  else
    cat "$WORK/probe/$kind.out" >&2
    die "shardruntime check refuses the $kind listener for another reason (above); fix the script's configuration"
  fi
done
if [[ -n $SR_TLS_SKIPPED ]]; then
  log "SKIPPING ShardRuntime's TLS turns: $SR_TLS_SKIPPED"
  TLS_SERVERS=(nginx-tls kestrel-tls)
fi
if [[ -n $SR_ASYNC_SKIPPED ]]; then
  log "SKIPPING the echo-async turns (the span style is still measured): $SR_ASYNC_SKIPPED"
  ECHO_SERVERS=(sr-echo)
fi

# --- Servers --------------------------------------------------------------------------------------------------------
SERVER=""
SERVER_PID=""   # the running server's root process (nginx: the master)
SERVER_DIR=""
PORT=""


# start_nginx SESSION_CACHE SESSION_TICKETS ACCESS_LOG: nginx from the template in SERVER_DIR on PORT.
start_nginx() {
  mkdir -p "$SERVER_DIR/temp"
  sed -e "s|@DIR@|$SERVER_DIR|g" -e "s|@PORT@|$PORT|g" -e "s|@NOFILE@|$NOFILE|g" -e "s|@CERT@|$CERT|g" \
      -e "s|@KEY@|$KEY|g" -e "s|@CIPHERS13@|$CIPHERS13|g" -e "s|@CIPHERS12@|$CIPHERS12|g" \
      -e "s|@SESSION_CACHE@|$1|g" -e "s|@SESSION_TICKETS@|$2|g" -e "s|@ACCESS_LOG@|$3|g" "$TEMPLATE" >"$SERVER_DIR/nginx.conf"
  server_env "$NGINX" -c "$SERVER_DIR/nginx.conf" -p "$SERVER_DIR/" -e "$SERVER_DIR/error.log" -t -q || die "nginx rejects $SERVER_DIR/nginx.conf"
  (ulimit -n "$NOFILE" && exec env -u OPENSSL_CONF "$NGINX" -c "$SERVER_DIR/nginx.conf" -p "$SERVER_DIR/" -e "$SERVER_DIR/error.log") >"$SERVER_DIR/server.log" 2>&1 &
  SERVER_PID=$!; track "$SERVER_PID"
}

# start_server NAME ROUND: on a fresh port in its own directory; returns once it listens with all its sockets.
start_server() {
  local name=$1 sockets kind
  SERVER=$name
  SERVER_DIR="$WORK/$name-r$2"
  mkdir -p "$SERVER_DIR"
  PORT=$($PY "$PEERS_HELPER" freeport 1)
  case $name in
    sr-*)
      sockets=$NPROC
      case $name in sr-tls) kind=tls ;; sr-echo) kind=echo ;; sr-echo-async) kind=echo-async ;; esac
      sr_config "$SERVER_DIR/shardruntime.conf" "$PORT" "$kind" "$SERVER_DIR/control.sock"
      (ulimit -n "$NOFILE" && exec env -u OPENSSL_CONF dotnet "$HOST_DLL" run --config "$SERVER_DIR/shardruntime.conf") >"$SERVER_DIR/server.log" 2>&1 &
      SERVER_PID=$!; track "$SERVER_PID"
      $PY "$PEERS_HELPER" control-ready "$SERVER_DIR/control.sock" "$START_TIMEOUT" \
        || { tail -20 "$SERVER_DIR/server.log" >&2; die "$name: the node's control socket did not answer status within ${START_TIMEOUT} s"; }
      ;;
    nginx-tls|nginx-resume-check)
      sockets=2
      if [[ $name == nginx-tls ]]; then
        start_nginx off off off
      else
        start_nginx shared:resume:1m on "$SERVER_DIR/access.log resume"
      fi
      ;;
    kestrel-tls)
      sockets=1
      (ulimit -n "$NOFILE" && exec env -u OPENSSL_CONF dotnet "$KESTREL_DLL" "$PORT" --https "$CERT" "$KEY") >"$SERVER_DIR/server.log" 2>&1 &
      SERVER_PID=$!; track "$SERVER_PID"
      ;;
    *) die "unknown server $name" ;;
  esac
  wait_sockets tcp "$PORT" "$sockets" "$START_TIMEOUT" "$SERVER_PID" \
    || { tail -20 "$SERVER_DIR/server.log" "$SERVER_DIR/error.log" 2>/dev/null >&2; die "$name: not $sockets listening sockets on port $PORT within ${START_TIMEOUT} s"; }
}

# --- Load -----------------------------------------------------------------------------------------------------------
wrk_run() { # OUT SECONDS [wrk options]
  local out=$1 seconds=$2
  shift 2
  bounded timeout -k 5 $((seconds + 30)) env LD_PRELOAD="$NORESUME" wrk -t2 -c"$CONNECTIONS" -d"${seconds}s" --latency \
    --timeout "$WRK_TIMEOUT" -s "$LUA" "$@" "https://127.0.0.1:$PORT/" >"$out" 2>&1 || die "wrk failed (exit $?) against $SERVER; see $out"
}

# The check that wrk with noresume.so makes full handshakes only: an nginx that resumes sessions and logs
# $ssl_session_reused ("r" or ".") per request; wrk alone (the control: it should resume there) and wrk with the
# wrapper, 1 s each with Connection: close. Any resumed connection with the wrapper stops the run.
resume_check() {
  local access control wrapped
  start_server nginx-resume-check 0
  $PY "$HELPER" probe "$PORT" 20 "$SERVER_DIR/probe.json" || die "no TLS reply 200 from the resumption check's nginx (logs in $SERVER_DIR)"
  access="$SERVER_DIR/access.log"
  : >"$access"   # nginx opened it with O_APPEND: it goes on writing from the start
  bounded timeout -k 5 30 wrk -t2 -c8 -d1s -H 'Connection: close' "https://127.0.0.1:$PORT/" >"$SERVER_DIR/control.wrk" 2>&1 \
    || die "wrk failed against the resumption check's nginx; see $SERVER_DIR/control.wrk"
  control="$(grep -c '^r$' "$access" || true) of $(wc -l <"$access")"
  : >"$access"
  wrk_run "$SERVER_DIR/wrapped.wrk" 1 -H 'Connection: close'
  wrapped="$(grep -c '^r$' "$access" || true) of $(wc -l <"$access")"
  stop_server
  [[ ${wrapped##* } -gt 0 ]] || die "wrk with bench/tls/noresume.c made no request to the resumption check's nginx (logs in $SERVER_DIR)"
  [[ ${wrapped%% *} -eq 0 ]] \
    || die "wrk with bench/tls/noresume.c resumed $wrapped connections to an nginx that allows resumption (logs in $SERVER_DIR)"
  RESUME_CHECK="against an nginx that resumes sessions (session cache and tickets on), wrk alone resumed $control connections; with bench/tls/noresume.c $wrapped"
  log "resumption check: $RESUME_CHECK"
}

echo_run() { # JSON OUT SECONDS
  bounded timeout -k 5 $(($3 + 60)) "$LOADGEN" --target "127.0.0.1:$PORT" --mode keepalive --protocol echo \
    --connections "$CONNECTIONS" --pipeline 1 --payload-bytes "$ECHO_PAYLOAD" --duration "${3}s" --json "$1" >"$2" 2>&1 \
    || die "the load generator failed (exit $?) against $SERVER; see $2"
  [[ -s $1 ]] || die "the load generator wrote no summary against $SERVER; see $2"
}

cpu() { $PY "$HELPER" cpu "$SERVER_PID"; }

# measure ROUND POSITION SCENARIO(ka|hs|echo)
measure() {
  local base="$WORK/raw/r$1-$SERVER-$3" cpu0 cpu1
  local common=("server=$SERVER" "scenario=$3" "round=$1" "position=$2")
  case $3 in
    ka)
      cpu0=$(cpu); snap "$base.t0"; wrk_run "$base.wrk" "$DURATION"; snap "$base.t1"; cpu1=$(cpu)
      $PY "$PEERS_HELPER" wrk-record "$base.wrk" "$base.json" "${common[@]}" "connections=$CONNECTIONS" \
        "cpu_s=$($PY -c "print(round($cpu1 - $cpu0, 2))")" "client_cpu_s=$(client_cpu "$base.t0" "$base.t1")" ;;
    hs)
      cpu0=$(cpu); snap "$base.t0"; PEERS_COUNT_CLOSE=1 wrk_run "$base.wrk" "$DURATION" -H "Connection: close"
      snap "$base.t1"; cpu1=$(cpu)
      $PY "$PEERS_HELPER" wrk-record "$base.wrk" "$base.json" "${common[@]}" "connections=$CONNECTIONS" \
        "cpu_s=$($PY -c "print(round($cpu1 - $cpu0, 2))")" "client_cpu_s=$(client_cpu "$base.t0" "$base.t1")" ;;
    echo)
      cpu0=$(cpu); snap "$base.t0"; echo_run "$base.loadgen.json" "$base.txt" "$DURATION"; snap "$base.t1"; cpu1=$(cpu)
      $PY "$HELPER" loadgen-record "$base.loadgen.json" "$base.json" "${common[@]}" \
        "cpu_s=$($PY -c "print(round($cpu1 - $cpu0, 2))")" "client_cpu_s=$(client_cpu "$base.t0" "$base.t1")" ;;
  esac
  log "  $3: $($PY "$HELPER" line "$base.json")"
  alive "$SERVER_PID" || die "$SERVER exited during $3; see its log in $SERVER_DIR"
  drained
}

resume_check

ORDERS=()
for ((r = 1; r <= ROUNDS; r++)); do
  for group in tls echo; do
    if [[ $group == tls ]]; then servers=("${TLS_SERVERS[@]}"); else servers=("${ECHO_SERVERS[@]}"); fi
    rotated order "$r" "${servers[@]}"
    ORDERS+=("round $r $group: ${order[*]}")
    log "round $r of $ROUNDS, $group: ${order[*]}"
    pos=0
    for server in "${order[@]}"; do
      pos=$((pos + 1))
      start_server "$server" "$r"
      if [[ $group == tls ]]; then
        $PY "$HELPER" probe "$PORT" 20 "$WORK/raw/r$r-$server-probe.json" "server=$server" scenario=probe "round=$r" \
          || { tail -20 "$SERVER_DIR/server.log" "$SERVER_DIR/error.log" 2>/dev/null >&2; die "$server: no TLS reply 200 on port $PORT (above: its log)"; }
        log "$server (PID $SERVER_PID) on port $PORT: $($PY "$HELPER" line "$WORK/raw/r$r-$server-probe.json")"
        wrk_run "$WORK/raw/r$r-$server-warmup.txt" "$WARMUP"
        wrk_run "$WORK/raw/r$r-$server-warmup-hs.txt" "$WARMUP_HS" -H 'Connection: close'
        drained
        measure "$r" "$pos" ka
        measure "$r" "$pos" hs
      else
        $PY "$HELPER" echo-ready "$PORT" 20 || { tail -20 "$SERVER_DIR/server.log" >&2; die "$server: port $PORT does not echo (above: its log)"; }
        log "$server (PID $SERVER_PID) on port $PORT: warm-up ${WARMUP} s"
        echo_run "$WORK/raw/r$r-$server-warmup.loadgen.json" "$WORK/raw/r$r-$server-warmup.txt" "$WARMUP"
        drained
        measure "$r" "$pos" echo
      fi
      stop_server
    done
  done
done

# --- Report ---------------------------------------------------------------------------------------------------------
ELAPSED=$((SECONDS - STARTED))
meta() { printf '%s\t%s\n' "$1" "$2" >>"$WORK/meta.tsv"; }
: >"$WORK/meta.tsv"
meta command "bench/tls.sh${ARGS[*]:+ ${ARGS[*]}}"
meta date "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
meta commit "$COMMIT"
meta quick "$QUICK"
$PY "$ROOT/bench/benchdoc.py" machine >>"$WORK/meta.tsv"   # nproc, cpu, memory, kernel, dotnet
meta loadavg "$LOADAVG_START at the start, $(cut -d' ' -f1 /proc/loadavg) at the end"
meta nginx "$("$NGINX" -v 2>&1 | sed 's/^nginx version: //')"
meta nginx_openssl "$("$NGINX" -V 2>&1 | grep -o 'running with OpenSSL [^ ]*' | sed 's/running with //' || echo 'OpenSSL as built')"
meta openssl "$(openssl version | awk '{print $1, $2}')"
meta wrk "$(wrk -v 2>&1 | head -1 | awk '{print $2}')"
meta client_pin "$CLIENT_PIN"
meta resume_check "$RESUME_CHECK"
meta server_ciphers "TLS 1.3 ${CIPHERS13//:/, }; TLS 1.2 ${CIPHERS12//:/, }"
meta rounds "$ROUNDS"
meta duration "$DURATION"
meta warmup "TLS: wrk -c$CONNECTIONS ${WARMUP} s keep-alive, then ${WARMUP_HS} s with Connection: close (a .NET server's tiered JIT goes on compiling the handshake path for about 20 s of handshakes); echo: ${WARMUP} s of the same load"
meta echo_connections "$CONNECTIONS"
meta echo_payload "$ECHO_PAYLOAD"
meta orders "$(IFS=';'; echo "${ORDERS[*]}" | sed 's/;/; /g')"
meta sr_tls_skipped "$SR_TLS_SKIPPED"
meta sr_async_skipped "$SR_ASYNC_SKIPPED"
meta elapsed "$((ELAPSED / 60)) min $((ELAPSED % 60)) s"

$PY "$HELPER" render "$WORK" "$DOCS"
log "done in $((SECONDS - STARTED)) s"
OK=1
