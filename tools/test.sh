#!/usr/bin/env bash
# The test command: set up what is missing, build, run every test except those labelled gpu.
#   tools/test.sh                 everything CI runs
#   tools/test.sh -L parity       extra arguments go to ctest (here: only the parity tests)
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR="${ARENA_BUILD_DIR:-build}"
JOBS="${ARENA_JOBS:-2}"

tools/setup.sh
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release
cmake --build "$BUILD_DIR" -j "$JOBS"
ctest --test-dir "$BUILD_DIR" -LE gpu --output-on-failure -j "$JOBS" "$@"
