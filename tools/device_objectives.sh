#!/usr/bin/env bash
# On the lent GPU machine: the preference-model objectives on the real Gemma-3-270M (issue 17),
# one process, bf16, NCCL backend (world of one). tools/device_train_bundle.sh packs what travels
# (.devtrain, .gg/p0-p4); copy p0-p3 to /tmp/gg in earlier calls as its header says, then run this
# as the last call with carry [".devtrain", ".gg/p4"]. Phases (default: all, in this order):
#   reward   a Bradley-Terry reward model on HH-RLHF helpful-base (train.objective = reward), the
#            classifier's best setting otherwise (configs/gpu-gemma3-270m.toml)
#   swap     LMSYS 3-class (first 1,000 rows) with train.swap none and both, then eval --swap-average
#            of each: accuracy, log loss, swap consistency
#   merged   export --merged of the swap=none LMSYS run, run by transformers alone on the test rows
#            (bench/merged_vs_arena.py) against arena's own test predictions
#   predict  inference throughput (issue 20 part 5): an LMSYS 3-class run at 1900 tokens (1 epoch),
#            then bench/predict_vs_peer.sh on its 1,000 rows: arena predict against transformers +
#            PEFT + bitsandbytes NF4 with the same adapter and token ids (not in the default list)
# Results: $OUT/objectives.tgz (runs' metrics.jsonl, logs, eval JSON) and $OUT/summary.txt.
# Local rehearsal on CPU with a random-init shape: ARENA=build/launch/arena MODEL= DEVICE=cpu
#   GPU_CONFIG=configs/cpu-tiny.toml EXTRA="--model.num_layers 2 --steps 4" tools/device_objectives.sh
set -uo pipefail
R=$PWD
OUT="${OUT:-$R/out}"
mkdir -p "$OUT"
DEVICE="${DEVICE:-cuda}"
if [ -z "${ARENA:-}" ]; then  # on the device: assemble the model and unpack the binary
  mkdir -p /tmp/gg
  [ -f .gg/p4 ] && cp .gg/p4 /tmp/gg/
  [ -f /tmp/g3.gguf ] || cat /tmp/gg/p0 /tmp/gg/p1 /tmp/gg/p2 /tmp/gg/p3 /tmp/gg/p4 > /tmp/g3.gguf
  sha256sum /tmp/g3.gguf
  [ -x /tmp/a/arena ] || { mkdir -p /tmp/a && tar xJf .devtrain/.devtrain.tar.xz -C /tmp/a; }
  TL=$(python3 -c 'import os, torch; print(os.path.dirname(torch.__file__) + "/lib")')
  NL=$(python3 -c 'import nvidia.nccl as n; print(list(n.__path__)[0] + "/lib")')
  export LD_LIBRARY_PATH=/tmp/a/lib:$TL:$NL
  ARENA=/tmp/a/arena
  MODEL=/tmp/g3.gguf
  DATA_DIR=/tmp/a/shared/data
  TOKENIZER=/tmp/a/shared/gemma/gemma3/tokenizer.model
  nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader
fi
MODEL="${MODEL-}"
DATA_DIR="${DATA_DIR:-$R/../shared/data}"
TOKENIZER="${TOKENIZER:-$R/../shared/gemma/gemma3/tokenizer.model}"
GPU_CONFIG="${GPU_CONFIG:-$R/configs/gpu-gemma3-270m.toml}"
read -r -a extra <<< "${EXTRA:-}"
RUNS=/tmp/objective-runs
rm -rf "$RUNS" && mkdir -p "$RUNS"
SUMMARY="$OUT/summary.txt"
: > "$SUMMARY"
model_args=()
[ -n "$MODEL" ] && model_args=(--model "$MODEL" --tokenizer "$TOKENIZER")
backend=(--device "$DEVICE")
[ "$DEVICE" = cuda ] && backend+=(--backend nccl)

say() { echo "$*" | tee -a "$SUMMARY"; }
pack() { tar czf "$OUT/objectives.tgz" -C "$RUNS" . 2>/dev/null; }
train() {  # name limit_s args...
  local name=$1 limit=$2; shift 2
  local t0=$SECONDS
  timeout "$limit" "$ARENA" train -c "$GPU_CONFIG" "${model_args[@]}" "${backend[@]}" --out "$RUNS/$name" "$@" \
    "${extra[@]}" > "$RUNS/$name.log" 2>&1
  local rc=$?
  say "=== $name: rc=$rc, $((SECONDS - t0)) s: $*"
  grep -E "^(val|test)|^data:|skipped|^train:" "$RUNS/$name.log" | tee -a "$SUMMARY"
  pack
  return $rc
}
evaluate() {  # name args...
  local name=$1; shift
  "$ARENA" eval --checkpoint "$RUNS/$name" --device "$DEVICE" --json "$@" > "$RUNS/$name.eval.txt" 2>&1
  say "--- eval $name $*: $(tail -n 1 "$RUNS/$name.eval.txt")"
  pack
}

lmsys=(--data "$DATA_DIR/lmsys-arena-train-head1000.csv" --labels 3class --model.num_labels 3 --epochs 3 --lr 2e-4
       --lora.first_layer 6)
for phase in ${*:-reward swap merged}; do
  case $phase in
    reward)
      train hh-reward 240 --data "$DATA_DIR/hh-rlhf-helpful-base-test.jsonl.gz" --train.objective reward \
        --model.num_labels 1 ;;
    swap)
      train lmsys-none 150 "${lmsys[@]}" && evaluate lmsys-none --swap-average
      train lmsys-both 200 "${lmsys[@]}" --train.swap both && evaluate lmsys-both --swap-average ;;
    merged)
      t0=$SECONDS
      "$ARENA" export --checkpoint "$RUNS/lmsys-none" --merged "$RUNS/lmsys-none-merged" > "$RUNS/merged.log" 2>&1
      python3 "$R/bench/merged_vs_arena.py" "$RUNS/lmsys-none" "$RUNS/lmsys-none-merged" --device "$DEVICE" \
        >> "$RUNS/merged.log" 2>&1
      say "=== merged: $((SECONDS - t0)) s: $(tail -n 1 "$RUNS/merged.log")"
      rm -rf "$RUNS/lmsys-none-merged"
      pack ;;
    predict)
      train lmsys-1900 300 "${lmsys[@]}" --max-len 1900 --epochs 1 &&
        MODEL="$MODEL" ARENA="$ARENA" DEVICE="$DEVICE" OUT="$RUNS/predict" timeout 400 \
          "$R/bench/predict_vs_peer.sh" "$RUNS/lmsys-1900" "$DATA_DIR/lmsys-arena-train-head1000.csv" \
          > "$RUNS/predict.log" 2>&1
      say "=== predict: $(grep -E "^(arena predict|peer|RATIO|probabilities|NOTE)" "$RUNS/predict.log" | tr '\n' ' ')"
      rm -rf "$RUNS/predict/adapter"
      pack ;;
  esac
done
rm -rf "$RUNS"/*/checkpoints "$RUNS"/*/tokens.h5
pack
ls -la "$OUT"
