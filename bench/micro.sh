#!/usr/bin/env bash
# bench/micro.sh: BenchmarkDotNet micro-benchmarks with the memory diagnoser, over the http-ok hot path: what one request
# allocates (the zero-allocation target) and takes.
#
# 1. Builds bench/Micro (Release).
# 2. Runs every benchmark in it, in process (BenchmarkDotNet's InProcessEmitToolchain, 3 warm-up and 10 measured
#    iterations each, a few minutes in all):
#    - HttpOkHandler.OnReceived alone, with a context whose Write copies into a reused buffer: one keep-alive GET
#      (the head wrk sends) per call, and 16 pipelined in one call;
#    - the whole path: a real node in the same process (the generic host with Akka.Hosting's WithShardRuntime,
#      listener http-ok on 127.0.0.1 port 0, 1 and 2 shards) and blocking keep-alive loopback clients that allocate
#      nothing: one GET and its response per operation; one GET on each of 8 connections, then the 8 responses; 16
#      pipelined GETs on one connection. Times and allocations are per request;
#    - connection churn on the same node (1 shard): a whole new connection per operation (connect, one GET, its
#      response, close), once with Connection: close (finished in the shard, no actor) and once keep-alive (a
#      connection actor); allocations per connection.
# 3. Prints BenchmarkDotNet's table and rewrites the micro section of docs/benchmarks.md (method, mean, allocated per
#    request, the bytes and operations it comes from, Gen0; the command, date, commit and machine).
#
# Allocated is BenchmarkDotNet's memory diagnoser on .NET: GC.GetTotalAllocatedBytes(precise: true) after a full
# collection, before and after one extra run of the benchmark, divided by that run's operations and rounded to a whole
# byte. It is process-wide: the actor system, the socket engine, the thread pool and BenchmarkDotNet itself count.
#
# Usage: bench/micro.sh [--filter PATTERN] [--keep]
#   --filter PATTERN  only the benchmarks whose full name matches (BenchmarkDotNet's --filter, default '*'); the
#                     section is written all the same, from what ran
#   --keep            keep the temporary directory (BenchmarkDotNet's log and reports) even when the run succeeds
set -euo pipefail

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }

FILTER='*'
KEEP=0
ARGS=("$@")
while (($#)); do
  case "$1" in
    --filter) [[ $# -ge 2 && -n $2 ]] || { echo "--filter needs a pattern such as '*HttpOkPath*'" >&2; exit 2; }
              FILTER=$2; shift ;;
    --keep) KEEP=1 ;;
    -h|--help) usage; exit 0 ;;
    *) echo "unknown option: $1 (see --help)" >&2; exit 2 ;;
  esac
  shift
done

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
cd "$ROOT"
DOCS="$ROOT/docs/benchmarks.md"
PY=/usr/bin/python3
STARTED=$SECONDS
LOADAVG_START=$(cut -d' ' -f1 /proc/loadavg)

log() { printf '[micro %3ds] %s\n' "$((SECONDS - STARTED))" "$*"; }
die() { printf 'micro: %s\n' "$*" >&2; exit 1; }

[[ -x $PY ]] || die "python3 is missing (apt-get install -y python3)"
command -v dotnet >/dev/null || die "the .NET 10 SDK (dotnet) is not installed; see README.md"

# Commit of what is measured: docs/benchmarks.md is this script's output, so it does not make the tree dirty.
if COMMIT=$(git -C "$ROOT" rev-parse --short HEAD 2>/dev/null); then
  [[ -z $(git -C "$ROOT" status --porcelain -- . ':(exclude)docs/benchmarks.md' 2>/dev/null) ]] || COMMIT+="-dirty"
else
  COMMIT=unknown
fi

WORK=$(mktemp -d -t shardruntime-micro.XXXXXX)
OK=0
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  if ((OK && !KEEP)); then
    rm -rf "$WORK"
  else
    echo "micro: BenchmarkDotNet's log and reports kept in $WORK" >&2
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

log "building bench/Micro (Release)"
dotnet build -c Release bench/Micro >"$WORK/build.log" 2>&1 || { tail -30 "$WORK/build.log" >&2; die "dotnet build -c Release bench/Micro failed"; }
MICRO=bench/Micro/bin/Release/net10.0/ShardRuntime.Micro.dll
[[ -f $MICRO ]] || die "build output missing: $MICRO"

log "running the benchmarks (filter $FILTER); BenchmarkDotNet's log: $WORK/run.log"
# In process: the node a benchmark starts (127.0.0.1, port 0) stops with it, and with this dotnet process at the latest.
timeout 1800 dotnet "$MICRO" --filter "$FILTER" --artifacts "$WORK/artifacts" >"$WORK/run.log" 2>&1 \
  || { tail -40 "$WORK/run.log" >&2; die "the benchmarks failed (log: $WORK/run.log)"; }
sed -n '/^| Type /,/^$/p' "$WORK/run.log"

meta() { printf '%s\t%s\n' "$1" "$2" >>"$WORK/meta.tsv"; }
: >"$WORK/meta.tsv"
meta command "bench/micro.sh${ARGS[*]:+ ${ARGS[*]}}"
meta date "$(date -u +%Y-%m-%dT%H:%M:%SZ)"
meta commit "$COMMIT"
$PY "$ROOT/bench/benchdoc.py" machine >>"$WORK/meta.tsv"   # nproc, cpu, memory, kernel, dotnet
meta loadavg "$LOADAVG_START at the start, $(cut -d' ' -f1 /proc/loadavg) at the end"
meta bdn "$(grep -o -m1 'BenchmarkDotNet v[0-9.]*' "$WORK/run.log" || echo 'BenchmarkDotNet')"

$PY "$ROOT/bench/Micro/report.py" "$WORK" "$DOCS"
log "done in $((SECONDS - STARTED)) s"
OK=1
