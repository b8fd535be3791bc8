#!/usr/bin/env bash
# Fuzzes every file reader with libFuzzer under ASan + UBSan (tests/fuzz/, docs/reliability.md).
#   tools/fuzz.sh [SECONDS] [HARNESS...]   run each harness SECONDS (default 60), all by default
#   tools/fuzz.sh --replay [HARNESS...]    run the kept findings (tests/fuzz/regressions/) once
#   tools/fuzz.sh --build                  only configure and build
# HARNESS is a reader name: csv jsonl gzip parquet spm gguf toml safetensors bnb_quant_state checkpoint.
# Builds the clang project tests/fuzz into $ARENA_FUZZ_BUILD_DIR (default build-fuzz) when needed.
# Each harness fuzzes a scratch corpus ($BUILD_DIR/runs/<name>/corpus, kept between runs) seeded
# from tests/fuzz/corpus/<name>/ and tests/fuzz/regressions/<name>/, which are only read; findings
# are written to $BUILD_DIR/runs/<name>/ (crash-*, leak-*, timeout-*, oom-*).
# Prints per harness: executions, exec/s, findings. Exits 1 on any finding.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT="$PWD"
BUILD_DIR="${ARENA_FUZZ_BUILD_DIR:-build-fuzz}"
JOBS="${ARENA_JOBS:-2}"

mode=fuzz
seconds=60
case "${1:-}" in
  --replay) mode=replay; shift ;;
  --build) mode=build; shift ;;
  ''|*[!0-9]*) ;;
  *) seconds="$1"; shift ;;
esac

# One configure and build at a time: two fuzz.sh started together (one harness each) would race in
# one ninja tree (one of them failed so, mid-archive).
mkdir -p "$BUILD_DIR"
exec 9> "$BUILD_DIR/.build-lock"
flock 9
if [ ! -f "$BUILD_DIR/build.ninja" ]; then
  cmake -S tests/fuzz -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
    -DCMAKE_C_COMPILER="${CC_FUZZ:-clang}" -DCMAKE_CXX_COMPILER="${CXX_FUZZ:-clang++}" >/dev/null
fi
cmake --build "$BUILD_DIR" -j "$JOBS"
flock -u 9
[ "$mode" = build ] && exit 0

if [ $# -gt 0 ]; then
  harnesses=("$@")
else
  harnesses=()
  for f in tests/fuzz/fuzz_*.cpp; do
    f="${f##*/fuzz_}"
    harnesses+=("${f%.cpp}")
  done
fi

export LSAN_OPTIONS="suppressions=$ROOT/tests/fuzz/lsan.supp:print_suppressions=0"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
# Limits that make a finding: 2 GB resident or one 2 GB allocation, 25 s for one input (the dev VM's
# 2 cores are shared; an input normally takes milliseconds).
limits=(-rss_limit_mb=2048 -malloc_limit_mb=2048 -timeout=25)

# Per-harness options. checkpoint: Debian's libhdf5 leaks a few bytes on most damaged files
# (tests/fuzz/lsan.supp), and each leaking run costs a whole-heap leak scan (10 exec/s instead of
# 300), so it fuzzes without leak checks and its corpus is replayed with them afterwards.
declare -A extra=([checkpoint]=-detect_leaks=0)

status=0
if [ "$mode" = replay ]; then
  for h in "${harnesses[@]}"; do
    inputs=(tests/fuzz/regressions/"$h"/*)
    [ -e "${inputs[0]}" ] || continue
    work="$BUILD_DIR/runs/replay-$h"
    mkdir -p "$work"
    if TMPDIR="$work" "$BUILD_DIR/fuzz_$h" "${limits[@]}" "${inputs[@]}" >"$work/log" 2>&1; then
      echo "replay $h: ${#inputs[@]} inputs pass"
    else
      echo "replay $h: FAILED (log: $work/log)"
      tail -n 30 "$work/log"
      status=1
    fi
  done
  exit $status
fi

printf '%-16s %12s %9s %9s %s\n' harness executions exec/s findings log
for h in "${harnesses[@]}"; do
  work="$BUILD_DIR/runs/$h"
  mkdir -p "$work/corpus"
  rm -f "$work"/crash-* "$work"/leak-* "$work"/timeout-* "$work"/oom-*
  seeds=(tests/fuzz/corpus/"$h")
  [ -d "tests/fuzz/regressions/$h" ] && seeds+=("tests/fuzz/regressions/$h")
  rc=0
  # ARENA_FUZZ_SEED fixes libFuzzer's random seed (the CI smoke test: the same inputs every run).
  TMPDIR="$work" "$BUILD_DIR/fuzz_$h" "${limits[@]}" ${extra[$h]:-} ${ARENA_FUZZ_SEED:+-seed=$ARENA_FUZZ_SEED} \
    -max_total_time="$seconds" -print_final_stats=1 \
    -artifact_prefix="$work/" "$work/corpus" "${seeds[@]}" >"$work/log" 2>&1 || rc=$?
  if [ "$rc" -eq 0 ] && [ -n "${extra[$h]:-}" ]; then  # every input it kept, once, with leak checks
    TMPDIR="$work" "$BUILD_DIR/fuzz_$h" "${limits[@]}" -runs=0 -artifact_prefix="$work/" \
      "$work/corpus" >"$work/replay-with-leak-checks.log" 2>&1 || rc=$?
  fi
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$work/log" | tail -n 1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$work/log" | tail -n 1)
  findings=$(find "$work" -maxdepth 1 \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' -o -name 'oom-*' \) | wc -l)
  if [ "$rc" -ne 0 ] && [ "$findings" -eq 0 ]; then findings=1; fi  # died without an artifact
  printf '%-16s %12s %9s %9s %s\n' "$h" "${execs:-?}" "${rate:-?}" "$findings" "$work/log"
  if [ "$findings" -ne 0 ]; then
    status=1
    grep -m 3 -E 'ERROR|runtime error|uncaught|deadly signal' "$work/log" || tail -n 20 "$work/log"
  fi
done
exit $status
