#!/usr/bin/env bash
# bench/fuzz.sh: coverage-guided fuzzing of the parsers that take bytes from outside, with AFL++ and SharpFuzz.
#
# Targets (tests/Fuzz/ShardRuntime.Fuzz, seed corpora in tests/Fuzz/corpus/<target>/, afl dictionaries of each
# protocol's tokens in tests/Fuzz/dict/<target>.dict):
#   http-ok  the http-ok handler fed a client's bytes, whole and in chunks (same answers, consumption in bounds)
#   control  the control socket's request line -> a command or a refusal naming what was wrong
#   upgrade  the upgrade protocol's frame reader over a peer's byte stream -> frames, "need more" or a refusal
#   dns      the dns-static responder over one datagram -> no reply (no ID, a response) or a sane reply
# Anything but those outcomes (an exception the parser does not turn into a refusal) is a crash.
#
# 1. Installs afl++ (apt-get) when afl-fuzz is missing, and the SharpFuzz instrumentation tool (dotnet tool
#    SharpFuzz.CommandLine) into bench/results/fuzz/tools.
# 2. Publishes the fuzz project (Release) to bench/results/fuzz/bin, copies it to bench/results/fuzz/afl and instruments
#    ShardRuntime.Runtime.dll and ShardRuntime.Actors.dll there (the code under test; the rest of the process is not
#    instrumented). Instrumented code only runs under afl-fuzz; bin/ replays inputs outside it.
# 3. Runs each target under one afl-fuzz instance for N seconds (one after the other: one core), findings in
#    bench/results/fuzz/<target>/ (git-ignored; a new run starts afresh from the seed corpus).
# 4. Prints per target: executions, executions per second, corpus size (seeds + what afl kept) and crashes; each
#    crash is replayed outside afl to show its exception. Exits 1 when a crash was found.
#
# A crash becomes a regression test: copy its input into the unit test of the parser's layer, fix the parser, and
# replay with `dotnet bench/results/fuzz/bin/ShardRuntime.Fuzz.dll <target> <file or directory>`.
#
# Usage: bench/fuzz.sh [--seconds N] [target...]
#   --seconds N  how long each target runs (default 60)
#   target       http-ok, control, upgrade, dns (default: all four)
set -euo pipefail

usage() { sed -n '2,/^set -euo/p' "$0" | sed '$d; s/^# \{0,1\}//'; }

ALL_TARGETS=(http-ok control upgrade dns)
SECONDS_PER_TARGET=60
TARGETS=()
while (($#)); do
  case "$1" in
    --seconds) [[ $# -ge 2 && $2 =~ ^[1-9][0-9]*$ ]] || { echo "--seconds needs a whole number of seconds above 0" >&2; exit 2; }
               SECONDS_PER_TARGET=$2; shift ;;
    -h|--help) usage; exit 0 ;;
    -*) echo "unknown option: $1 (see --help)" >&2; exit 2 ;;
    *) [[ " ${ALL_TARGETS[*]} " == *" $1 "* ]] || { echo "unknown target: $1 (targets: ${ALL_TARGETS[*]})" >&2; exit 2; }
       TARGETS+=("$1") ;;
  esac
  shift
done
((${#TARGETS[@]})) || TARGETS=("${ALL_TARGETS[@]}")

ROOT=$(cd "$(dirname "$0")/.." && pwd)
OUT=$ROOT/bench/results/fuzz
SHARPFUZZ_VERSION=2.3.0
mkdir -p "$OUT"

if ! command -v afl-fuzz >/dev/null; then
  [[ $(id -u) == 0 ]] || { echo "afl-fuzz is missing and installing it needs root: apt-get install afl++" >&2; exit 2; }
  echo "== installing afl++"
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq afl++ >/dev/null
fi

if [[ ! -x $OUT/tools/sharpfuzz ]]; then
  echo "== installing SharpFuzz.CommandLine $SHARPFUZZ_VERSION"
  dotnet tool install SharpFuzz.CommandLine --version "$SHARPFUZZ_VERSION" --tool-path "$OUT/tools" >/dev/null
fi

echo "== publishing and instrumenting tests/Fuzz/ShardRuntime.Fuzz"
rm -rf "$OUT/bin" "$OUT/afl"
dotnet publish "$ROOT/tests/Fuzz/ShardRuntime.Fuzz" -c Release -o "$OUT/bin" -nologo -v quiet >/dev/null
cp -r "$OUT/bin" "$OUT/afl"
for assembly in ShardRuntime.Runtime ShardRuntime.Actors; do
  "$OUT/tools/sharpfuzz" "$OUT/afl/$assembly.dll" >/dev/null
done

# dotnet itself is not instrumented (SharpFuzz writes the coverage map from managed code); a core_pattern that pipes to
# a handler only delays crash detection here; the fork server of a .NET process takes a few seconds to come up.
export AFL_SKIP_BIN_CHECK=1 AFL_I_DONT_CARE_ABOUT_MISSING_CRASHES=1 AFL_SKIP_CPUFREQ=1 AFL_NO_UI=1 \
       AFL_FORKSRV_INIT_TMOUT=120000 AFL_NO_AFFINITY=1

stat_of() { sed -n "s/^$2 *: *//p" "$1" | head -n1; }

found=0
summary=()
for target in "${TARGETS[@]}"; do
  findings=$OUT/$target
  rm -rf "$findings"
  echo "== $target: $SECONDS_PER_TARGET s (afl-fuzz log: $findings.log)"
  afl-fuzz -i "$ROOT/tests/Fuzz/corpus/$target" -x "$ROOT/tests/Fuzz/dict/$target.dict" -o "$findings" -t 5000 -m none -V "$SECONDS_PER_TARGET" \
    -- dotnet "$OUT/afl/ShardRuntime.Fuzz.dll" "$target" >"$findings.log" 2>&1 || {
      echo "afl-fuzz failed for $target; the end of its log:" >&2; tail -n 30 "$findings.log" >&2; exit 1; }

  stats=$findings/default/fuzzer_stats
  execs=$(stat_of "$stats" execs_done)
  runtime=$(stat_of "$stats" run_time)
  corpus=$(stat_of "$stats" corpus_count)
  seeds=$(find "$ROOT/tests/Fuzz/corpus/$target" -type f | wc -l)
  crashes=$(find "$findings/default/crashes" -type f -name 'id:*' 2>/dev/null | wc -l)
  hangs=$(find "$findings/default/hangs" -type f -name 'id:*' 2>/dev/null | wc -l)
  rate=$(awk -v e="$execs" -v t="$runtime" 'BEGIN { printf "%.0f", (t > 0 ? e / t : 0) }')
  line=$(printf '%-8s %6s s  %9s execs  %6s execs/s  corpus %4s (%s seeds)  crashes %s  hangs %s' \
    "$target" "$runtime" "$execs" "$rate" "$corpus" "$seeds" "$crashes" "$hangs")
  summary+=("$line")
  echo "$line"
  if ((crashes > 0)); then
    found=1
    echo "-- replaying the crashes of $target outside afl:"
    dotnet "$OUT/bin/ShardRuntime.Fuzz.dll" "$target" "$findings/default/crashes" | grep -v '^   at ' || true
  fi
done

echo
echo "== summary ($(date -u +%FT%TZ), $(git -C "$ROOT" rev-parse --short HEAD), $(nproc) cores, afl++ $(dpkg-query -W -f '${Version}' afl++ 2>/dev/null || echo '?'))"
printf '%s\n' "${summary[@]}"
exit "$found"
