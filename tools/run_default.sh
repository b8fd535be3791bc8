#!/usr/bin/env bash
# The main job on its embedded default, from a fresh machine:
#   1. install what is missing (tools/setup.sh) and build the `arena` binary;
#   2. train a small Gemma-2-shaped model (random init; real weights cannot ship) with the real
#      Gemma tokenizer on the real Auto-J pairs in ../shared/data, with 2 MPI ranks on CPU
#      (configs/cpu-tiny.toml): NF4 frozen base, LoRA, AdamW + warmup, HDF5 checkpoints;
#   3. evaluate the last checkpoint on the test split, export the PEFT adapter, and print where
#      everything went.
# Environment: ARENA_RANKS (2), ARENA_RUN_DIR (runs/default), ARENA_BUILD_DIR (build),
# ARENA_CONFIG (configs/cpu-tiny.toml). Extra arguments go to `arena train` (e.g. --optim.epochs 2).
set -euo pipefail
cd "$(dirname "$0")/.."
RANKS="${ARENA_RANKS:-2}"
RUN_DIR="${ARENA_RUN_DIR:-runs/default}"
BUILD_DIR="${ARENA_BUILD_DIR:-build}"
CONFIG="${ARENA_CONFIG:-configs/cpu-tiny.toml}"
SHARED="${ARENA_SHARED_DIR:-../shared}"

start=$(date +%s)
tools/setup.sh
mkdir -p "$BUILD_DIR"
cmake -S . -B "$BUILD_DIR" -G Ninja -DCMAKE_BUILD_TYPE=Release > "$BUILD_DIR/configure.log" 2>&1 ||
  { cat "$BUILD_DIR/configure.log"; exit 1; }
cmake --build "$BUILD_DIR" -j "${ARENA_JOBS:-2}" --target arena
ARENA="$BUILD_DIR/launch/arena"
built=$(date +%s)

MPI=(mpirun -np "$RANKS" --bind-to none)
[[ "$(id -u)" == 0 ]] && MPI+=(--allow-run-as-root)
(( RANKS > $(nproc) )) && MPI+=(--oversubscribe)

rm -rf "$RUN_DIR"
"${MPI[@]}" "$ARENA" train -c "$CONFIG" --out "$RUN_DIR" \
  --data "$SHARED/data/autoj-pairwise.jsonl" --tokenizer "$SHARED/gemma/tokenizer.model" "$@"
trained=$(date +%s)

echo
"$ARENA" eval --checkpoint "$RUN_DIR" --split test --json | tee "$RUN_DIR/test_eval.txt"
"$ARENA" export --checkpoint "$RUN_DIR" --out "$RUN_DIR/adapter"
end=$(date +%s)

cat <<REPORT

Done in $((end - start)) s (setup + build $((built - start)) s, training $((trained - built)) s on $RANKS ranks).
  run directory   $RUN_DIR
  resolved config $RUN_DIR/config.toml
  metrics         $RUN_DIR/metrics.jsonl   (one JSON object per line: start, train, eval, checkpoint, summary)
  checkpoints     $RUN_DIR/checkpoints/    (HDF5; h5dump -H $(ls "$RUN_DIR"/checkpoints/*.h5 | tail -1))
  test metrics    $RUN_DIR/test_eval.txt
  PEFT adapter    $RUN_DIR/adapter/
This model is a random-init Gemma-2 shape, so its accuracy stays near chance: the run shows the
system working end to end (data, 4-bit base, LoRA, 2-rank all-reduce, checkpoints, eval), not a
useful classifier. See README "Using a real Gemma-2-2B".
REPORT
