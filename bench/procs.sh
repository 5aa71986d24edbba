# bench/procs.sh: process tracking shared by the bench scripts (sourced, not run). Every process a script starts is
# tracked by its PID and ended by it (never by name): SIGTERM, a bounded wait, then SIGKILL, and the same for the
# processes it had started (nginx's workers, NSD's main and server processes). A PID is remembered with its start
# time, so a PID the kernel gave to another process after ours ended is never signalled.
# The sourcing script defines log() and STOP_GRACE (seconds between SIGTERM and SIGKILL by default); for stop_server
# and drained also SERVER_PID and PORT (its current server) and DRAIN_WAIT. Also here: established connections on a
# port, and a load generator's CPU time (snap, client_cpu).

PIDS=()                    # every process the script started (and has not yet stopped)
declare -A STARTED_AT=()   # PID -> its start time (/proc/PID/stat field 22)

start_time() { local line; read -r line 2>/dev/null <"/proc/$1/stat" || return 1; line=${line##*) }; set -- $line; echo "${20}"; }
track() { PIDS+=("$1"); STARTED_AT[$1]=$(start_time "$1" || echo gone); }
untrack() { local p keep=(); for p in "${PIDS[@]}"; do [[ $p == "$1" ]] || keep+=("$p"); done; PIDS=("${keep[@]}"); }
# Still the process that was tracked (or never tracked: then the caller knows it).
ours() { [[ -z ${STARTED_AT[$1]:-} || $(start_time "$1" || echo gone) == "${STARTED_AT[$1]}" ]]; }

# Running, or still exiting: a .NET process's main thread can end (a zombie) while other threads are still finishing
# (State Z, Threads 2 in /proc/PID/status); only a zombie without threads has ended.
alive() {
  local state threads
  [[ -e /proc/$1 ]] || return 1
  read -r state threads < <(awk '/^State:/ {s = $2} /^Threads:/ {t = $2} END {print s, t}' "/proc/$1/status" 2>/dev/null) || return 0
  [[ $state != Z || ${threads:-0} -gt 1 ]]
}

# bounded CMD...: runs CMD in the foreground, tracked by PID while it runs (so that the script's cleanup ends it if
# the script is stopped meanwhile); returns its exit code. Bound its time with timeout(1) in CMD.
bounded() {
  local pid rc=0
  "$@" &
  pid=$!
  track "$pid"
  wait "$pid" || rc=$?
  untrack "$pid"
  return "$rc"
}

# The descendants of a process, read before it is stopped, so that none outlives it.
descendants_of() {
  local stat line rest pid ppid p
  local -A parent=()
  for stat in /proc/[0-9]*/stat; do
    read -r line 2>/dev/null <"$stat" || continue
    rest=${line##*) }   # after the command name, which may hold spaces: state, ppid, ...
    rest=${rest#* }
    pid=${stat#/proc/}; pid=${pid%/stat}
    parent[$pid]=${rest%% *}
  done
  local frontier=("$1") next
  while ((${#frontier[@]})); do
    next=()
    for p in "${!parent[@]}"; do
      for ppid in "${frontier[@]}"; do
        if [[ ${parent[$p]} == "$ppid" ]]; then echo "$p"; next+=("$p"); fi
      done
    done
    frontier=("${next[@]}")
  done
  return 0
}

# stop_pid PID [GRACE]: SIGTERM, up to GRACE seconds for it to go, then SIGKILL; then its descendants, each given
# 5 s more to follow it before SIGKILL.
stop_pid() {
  local pid=$1 grace=${2:-$STOP_GRACE} i kids child
  ours "$pid" || return 0   # ended long ago, and the PID now belongs to another process
  kids=$(descendants_of "$pid")
  if alive "$pid"; then
    kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < grace * 10; i++)); do alive "$pid" || break; sleep 0.1; done
    if alive "$pid"; then
      log "PID $pid still running ${grace}s after SIGTERM: SIGKILL"
      kill -KILL "$pid" 2>/dev/null || true
    fi
  fi
  wait "$pid" 2>/dev/null || true
  for child in $kids; do
    for ((i = 0; i < 50; i++)); do alive "$child" || break; sleep 0.1; done
    if alive "$child"; then
      log "PID $child (a descendant of $pid) outlived it by 5 s: SIGKILL"
      kill -KILL "$child" 2>/dev/null || true
    fi
  done
}

# sockets tcp|udp PORT: how many listening (TCP) or bound (UDP) sockets the kernel shows on local PORT.
sockets() { if [[ $1 == udp ]]; then ss -Hlun "sport = :$2" | wc -l; else ss -Hltn "sport = :$2" | wc -l; fi; }

# wait_sockets tcp|udp PORT COUNT SECONDS PID: until the kernel shows COUNT sockets on PORT; fails when PID ended or
# SECONDS passed first.
wait_sockets() {
  local i
  for ((i = 0; i < $4 * 10; i++)); do
    alive "$5" || return 1
    [[ $(sockets "$1" "$2") -eq $3 ]] && return 0
    sleep 0.1
  done
  return 1
}

# stop_server: stops the script's current server (SERVER_PID) and forgets it.
stop_server() {
  stop_pid "$SERVER_PID" "$STOP_GRACE"
  untrack "$SERVER_PID"
  SERVER_PID=""
}

# established PORT: how many established TCP connections the kernel shows on local PORT (the server's side).
established() { ss -Htn state established "( sport = :$1 )" | wc -l; }

# drained: waits (at most DRAIN_WAIT seconds) until no connection of the last measurement is left on the server's
# PORT; says so in the log when some are.
drained() {
  local i
  for ((i = 0; i < DRAIN_WAIT * 10; i++)); do
    [[ $(established "$PORT") -eq 0 ]] && return 0
    sleep 0.1
  done
  log "  $(established "$PORT") of the server's connections still open after ${DRAIN_WAIT}s"
}

# A load generator's CPU time: `times` (a builtin, so run in the script's shell, not in a subshell) gives the user and
# system time of the shell's waited-for children, wrk or the load generator included (timeout waits for them).
# snap FILE before and after a measurement; client_cpu BEFORE AFTER: the children's CPU seconds between the two.
snap() { times >"$1"; }
client_cpu() {
  awk 'FNR == 2 { n = 0; for (i = 1; i <= 2; i++) { split($i, p, /[ms]/); n += p[1] * 60 + p[2] } t[FILENAME] = n }
       END { printf "%.2f\n", t[ARGV[2]] - t[ARGV[1]] }' "$1" "$2"
}

# rotated VAR ROUND ITEM...: sets the array VAR to the items in the order of round ROUND (1-based), rotated by one more
# each round, so that every server takes every position in turn and drift of the machine falls on all alike.
rotated() { local -n _rotated=$1; local k=$((($2 - 1) % ($# - 2))); shift 2; _rotated=("${@:k+1}" "${@:1:k}"); }
