#!/usr/bin/env bash
# deploy/cluster/local.sh: the three-node cluster of docker-compose.yml without Docker, on this machine's loopback.
#
#   node   remoting (akka.ssl.tcp://shardruntime@...) listeners (config/hocon ports) roles
#   seed   127.0.0.11:4053                           127.0.0.11:8080, :7000           edge
#   node2  127.0.0.12:4053                           127.0.0.12:8080, :7000           edge
#   node3  127.0.0.13:4053                           127.0.0.13:8080, :7000           core
#
# Every node names the seed as its seed node (the seed finds itself there and forms the cluster) and runs
# config/hocon/shard-runtime.conf with SHARDRUNTIME_BIND_ADDRESS set to its own address, so each has its listeners on
# its own address and the same ports. Each node has a directory $STATE_DIR/<node> (mode 0700) with its control socket
# (control.sock; the upgrade socket goes next to it), its log (node.log) and its pid. The nodes talk over TLS
# with mutual authentication: `start` makes a CA and one certificate per node in $STATE_DIR/certs with
# deploy/cluster/certs.sh when that directory has none yet (CERTS_DIR to use your own: ca.pem, <node>.pem, <node>-key.pem).
#
# Usage: deploy/cluster/local.sh start [--no-build]   build src/Host once (Release), start the three nodes, wait until
#                                                     each answers on its control socket
#        deploy/cluster/local.sh stop                 SIGTERM to the nodes this script started (by their pids), wait
#                                                     until they drained and exited
#        deploy/cluster/local.sh status [ARGS...]     each node's process, then `shardruntime status --cluster ARGS`
#                                                     on the seed (e.g. status --json)
#
# Environment: STATE_DIR (default ${XDG_RUNTIME_DIR:-/tmp}/shardruntime-cluster), CERTS_DIR (default $STATE_DIR/certs), CONFIG (default
# config/hocon/shard-runtime.conf), CONFIGURATION (default Release), READY_TIMEOUT (seconds, default 60),
# STOP_TIMEOUT (seconds, default 60: longer than shard-runtime.shutdown.drain-timeout, 30 s by default).
# The tool against one node: src/Host/bin/Release/net10.0/shardruntime status --control-socket $STATE_DIR/node2/control.sock
set -euo pipefail

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
STATE_DIR=${STATE_DIR:-${XDG_RUNTIME_DIR:-/tmp}/shardruntime-cluster}
CONFIG=${CONFIG:-$ROOT/config/hocon/shard-runtime.conf}
CONFIGURATION=${CONFIGURATION:-Release}
READY_TIMEOUT=${READY_TIMEOUT:-60}
STOP_TIMEOUT=${STOP_TIMEOUT:-60}
EXE="$ROOT/src/Host/bin/$CONFIGURATION/net10.0/shardruntime"
CERTS_DIR=${CERTS_DIR:-$STATE_DIR/certs}

REMOTING_PORT=4053
NODES=(seed node2 node3)
declare -A ADDRESS=([seed]=127.0.0.11 [node2]=127.0.0.12 [node3]=127.0.0.13)
declare -A ROLES=([seed]=edge [node2]=edge [node3]=core)
# Every node is a seed node, the seed first: a node that restarts (the seed too) joins the running others.
SEED_NODES="akka.ssl.tcp://shardruntime@${ADDRESS[seed]}:$REMOTING_PORT,akka.ssl.tcp://shardruntime@${ADDRESS[node2]}:$REMOTING_PORT,akka.ssl.tcp://shardruntime@${ADDRESS[node3]}:$REMOTING_PORT"

log() { printf 'cluster: %s\n' "$*"; }
die() { printf 'cluster: %s\n' "$*" >&2; exit 1; }

socket_of() { printf '%s/%s/control.sock' "$STATE_DIR" "$1"; }
log_of() { printf '%s/%s/node.log' "$STATE_DIR" "$1"; }
pid_file_of() { printf '%s/%s/pid' "$STATE_DIR" "$1"; }

# Whether pid $2 is node $1: a live process whose command line names the node's control socket (a recycled pid does
# not; a successor started by `upgrade` does, it runs the node's own command line).
is_node() {
  local node=$1 pid=$2 state
  [[ -r /proc/$pid/cmdline ]] || return 1
  state=$(sed 's/^.*) //' "/proc/$pid/stat" 2>/dev/null | cut -d' ' -f1) || return 1
  [[ $state != Z && $state != X ]] || return 1
  tr '\0' '\n' <"/proc/$pid/cmdline" | grep -qxF -- "$(socket_of "$node")"
}

# The pid of node $1, or nothing: the recorded one, or after an upgrade the one the node's control socket reports.
node_pid() {
  local node=$1 file pid
  file=$(pid_file_of "$node")
  [[ -f $file ]] || return 0
  pid=$(<"$file")
  if is_node "$node" "$pid"; then
    printf '%s' "$pid"
    return 0
  fi
  pid=$("$EXE" status --json --control-socket "$(socket_of "$node")" 2>/dev/null \
    | grep -o '"processId": *[0-9]*' | grep -o '[0-9]*$' || true)
  if [[ -n $pid ]] && is_node "$node" "$pid"; then
    printf '%s' "$pid" >"$file"
    printf '%s' "$pid"
  fi
}

start() {
  local build=1
  while (($#)); do
    case "$1" in
      --no-build) build=0 ;;
      *) die "start: unknown option $1 (see --help)" ;;
    esac
    shift
  done
  local node pid
  for node in "${NODES[@]}"; do
    pid=$(node_pid "$node")
    [[ -z $pid ]] || die "$node already runs (pid $pid); stop the cluster first"
  done
  [[ -f $CONFIG ]] || die "no configuration file $CONFIG"
  if ((build)); then
    log "building src/Host ($CONFIGURATION)"
    dotnet build "$ROOT/src/Host" -c "$CONFIGURATION" -nologo -v quiet >/dev/null || die "dotnet build src/Host -c $CONFIGURATION failed"
  fi
  [[ -x $EXE ]] || die "no host executable at $EXE (start without --no-build, or dotnet build src/Host -c $CONFIGURATION)"

  mkdir -p "$STATE_DIR"
  chmod 0700 "$STATE_DIR"
  if [[ ! -f $CERTS_DIR/ca.pem ]]; then
    log "making the cluster's CA and node certificates in $CERTS_DIR"
    "$ROOT/deploy/cluster/certs.sh" --dir "$CERTS_DIR" "seed=${ADDRESS[seed]}" "node2=${ADDRESS[node2]}" "node3=${ADDRESS[node3]}" >/dev/null \
      || die "deploy/cluster/certs.sh failed"
  fi
  for node in "${NODES[@]}"; do
    [[ -f $CERTS_DIR/$node.pem && -f $CERTS_DIR/$node-key.pem ]] || die "no certificate for $node in $CERTS_DIR ($node.pem, $node-key.pem)"
  done

  for node in "${NODES[@]}"; do
    mkdir -p "$STATE_DIR/$node"
    chmod 0700 "$STATE_DIR" "$STATE_DIR/$node"
    # setsid: the node leaves the terminal's process group, so a Ctrl+C meant for something else never reaches it.
    SHARDRUNTIME_CLUSTER_HOSTNAME=${ADDRESS[$node]} \
    SHARDRUNTIME_CLUSTER_PORT=$REMOTING_PORT \
    SHARDRUNTIME_CLUSTER_PUBLIC_HOSTNAME=${ADDRESS[$node]} \
    SHARDRUNTIME_CLUSTER_SEED_NODES=$SEED_NODES \
    SHARDRUNTIME_CLUSTER_ROLES=${ROLES[$node]} \
    SHARDRUNTIME_CLUSTER_TLS_CERTIFICATE=$CERTS_DIR/$node.pem \
    SHARDRUNTIME_CLUSTER_TLS_PRIVATE_KEY=$CERTS_DIR/$node-key.pem \
    SHARDRUNTIME_CLUSTER_TLS_TRUSTED_CA=$CERTS_DIR/ca.pem \
    SHARDRUNTIME_BIND_ADDRESS=${ADDRESS[$node]} \
      setsid "$EXE" run --config "$CONFIG" --control-socket "$(socket_of "$node")" \
      </dev/null >"$(log_of "$node")" 2>&1 &
    printf '%s' "$!" >"$(pid_file_of "$node")"
    log "$node: pid $! remoting ${ADDRESS[$node]}:$REMOTING_PORT, listeners on ${ADDRESS[$node]}, roles ${ROLES[$node]}, log $(log_of "$node")"
  done

  local deadline=$((SECONDS + READY_TIMEOUT)) waiting=("${NODES[@]}") still
  while ((${#waiting[@]})); do
    still=()
    for node in "${waiting[@]}"; do
      pid=$(<"$(pid_file_of "$node")")
      if "$EXE" status --control-socket "$(socket_of "$node")" >/dev/null 2>&1; then
        log "$node serves (pid $pid)"
      elif ! is_node "$node" "$pid"; then
        tail -n 20 "$(log_of "$node")" >&2 || true
        stop
        die "$node (pid $pid) exited during start-up; its log is above and in $(log_of "$node")"
      else
        still+=("$node")
      fi
    done
    waiting=("${still[@]+"${still[@]}"}")
    if ((${#waiting[@]})) && ((SECONDS >= deadline)); then
      stop
      die "${waiting[*]} did not answer on the control socket within ${READY_TIMEOUT}s; see the logs in $STATE_DIR"
    fi
    ((${#waiting[@]} == 0)) || sleep 0.5
  done
  log "three nodes run; deploy/cluster/local.sh status shows the cluster"
}

stop() {
  local node pid stopping=()
  for node in "${NODES[@]}"; do
    pid=$(node_pid "$node")
    if [[ -n $pid ]]; then
      log "$node: SIGTERM to pid $pid"
      kill -TERM "$pid" 2>/dev/null || true # it may have ended meanwhile: the wait below sees that
      stopping+=("$node:$pid")
    fi
  done
  local deadline=$((SECONDS + STOP_TIMEOUT)) entry still
  while ((${#stopping[@]})); do
    still=()
    for entry in "${stopping[@]}"; do
      if is_node "${entry%%:*}" "${entry#*:}"; then
        still+=("$entry")
      else
        log "${entry%%:*} stopped"
        rm -f "$(pid_file_of "${entry%%:*}")"
      fi
    done
    stopping=("${still[@]+"${still[@]}"}")
    if ((${#stopping[@]})) && ((SECONDS >= deadline)); then
      die "still running after ${STOP_TIMEOUT}s: ${stopping[*]} (node:pid); kill -KILL <pid> ends one without draining"
    fi
    ((${#stopping[@]} == 0)) || sleep 0.5
  done
  for node in "${NODES[@]}"; do rm -f "$(pid_file_of "$node")"; done
}

status() {
  local node pid process
  for node in "${NODES[@]}"; do
    pid=$(node_pid "$node")
    if [[ -n $pid ]]; then process="pid $pid"; else process="not running"; fi
    printf '%-6s %-12s %-40s %s\n' "$node" "$process" "akka.ssl.tcp://shardruntime@${ADDRESS[$node]}:$REMOTING_PORT" "$(socket_of "$node")"
  done
  [[ -x $EXE ]] || die "no host executable at $EXE"
  "$EXE" status --cluster --control-socket "$(socket_of seed)" "$@"
}

case "${1:-}" in
  start) shift; start "$@" ;;
  stop) shift; (($# == 0)) || die "stop takes no arguments"; stop ;;
  status) shift; status "$@" ;;
  -h|--help|help) usage ;;
  *) usage >&2; exit 2 ;;
esac
