#!/usr/bin/env bash
# The main job on its embedded default, from a fresh machine:
#   1. install what is missing (tools/setup.sh) and build the `arena` binary;
#   2. train a preference classifier on the real pretrained Gemma-3-270M (the GGUF tools/setup.sh
#      installs, re-quantized to NF4 on load) with its tokenizer on the real Auto-J pairs in
#      ../shared/data, with 2 MPI ranks on CPU (configs/cpu-gemma3-270m.toml): LoRA on the upper
#      layers, AdamW + warmup, HDF5 checkpoints;
#   3. evaluate the last checkpoint on the test split beside the baselines (majority, longer answer,
#      label prior), export the PEFT adapter, and print where everything went.
# Environment: ARENA_RANKS (2), ARENA_RUN_DIR (runs/default), ARENA_BUILD_DIR (build),
# ARENA_CONFIG (configs/cpu-gemma3-270m.toml), ARENA_MODEL (the Gemma-3-270M GGUF; empty: the
# config's random init, e.g. with ARENA_CONFIG=configs/cpu-tiny.toml). Extra arguments go to
# `arena train` (e.g. --optim.epochs 2).
set -euo pipefail
cd "$(dirname "$0")/.."
RANKS="${ARENA_RANKS:-2}"
RUN_DIR="${ARENA_RUN_DIR:-runs/default}"
BUILD_DIR="${ARENA_BUILD_DIR:-build}"
CONFIG="${ARENA_CONFIG:-configs/cpu-gemma3-270m.toml}"
SHARED="${ARENA_SHARED_DIR:-../shared}"
MODEL="${ARENA_MODEL-${ARENA_MODELS_DIR:-$HOME/.cache/arena/models}/gemma-3-270m-q4_k_m.gguf}"
TOKENIZER="$SHARED/gemma/gemma3/tokenizer.model"
MODEL_ARGS=()
if [[ -n "$MODEL" ]]; then
  MODEL_ARGS=(--model "$MODEL")
else
  TOKENIZER="$SHARED/gemma/tokenizer.model"  # the random-init configs use the Gemma-2 vocabulary
fi

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
"${MPI[@]}" "$ARENA" train -c "$CONFIG" --out "$RUN_DIR" "${MODEL_ARGS[@]}" \
  --data "$SHARED/data/autoj-pairwise.jsonl" --tokenizer "$TOKENIZER" "$@"
trained=$(date +%s)

echo
"$ARENA" eval --checkpoint "$RUN_DIR" --split test --json | tee "$RUN_DIR/test_eval.txt"
"$ARENA" export --checkpoint "$RUN_DIR" --out "$RUN_DIR/adapter"
end=$(date +%s)

cat <<REPORT

Done in $((end - start)) s (setup + build $((built - start)) s, training $((trained - built)) s on $RANKS ranks).
  run directory   $RUN_DIR
  resolved config $RUN_DIR/config.toml
  metrics         $RUN_DIR/metrics.jsonl   (one JSON object per line: start, train, eval, baselines, checkpoint, summary)
  checkpoints     $RUN_DIR/checkpoints/    (HDF5; h5dump -H $(ls "$RUN_DIR"/checkpoints/*.h5 | tail -1))
  test metrics    $RUN_DIR/test_eval.txt
  PEFT adapter    $RUN_DIR/adapter/
Read the test accuracy and log loss against the baselines printed beside them (majority class, the
longer answer, the label prior): a model is worth something only where it beats them. README,
"What the default shows", says what this run's numbers mean.
REPORT
