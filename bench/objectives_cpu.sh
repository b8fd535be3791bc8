#!/usr/bin/env bash
# The reward objective against the classifier on the real Gemma-3-270M, on this machine's CPU ranks:
# the same HH-RLHF helpful-base pairs (the first ROWS of the file), split, settings and steps
# (configs/cpu-gemma3-270m.toml: 256 tokens, 1 epoch, LoRA on layers 9-17), one run each.
# Env: ROWS (800), RANKS (2), OUT (runs/objectives-cpu), ARENA (build/launch/arena), MODEL (the GGUF).
set -euo pipefail
cd "$(dirname "$0")/.."
ROWS="${ROWS:-800}"
RANKS="${RANKS:-2}"
OUT="${OUT:-runs/objectives-cpu}"
ARENA="${ARENA:-build/launch/arena}"
MODEL="${MODEL:-${ARENA_MODELS_DIR:-$HOME/.cache/arena/models}/gemma-3-270m-q4_k_m.gguf}"
SHARED="${ARENA_SHARED_DIR:-../shared}"
mkdir -p "$OUT"
data="$OUT/hh-first-$ROWS.jsonl"
python3 - "$SHARED/data/hh-rlhf-helpful-base-test.jsonl.gz" "$data" "$ROWS" <<'PY'
import gzip, sys
src, dst, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
with gzip.open(src, "rt") as f, open(dst, "w") as out:
    for k, line in enumerate(f):
        if k == n:
            break
        out.write(line)
PY
launch=(mpirun --allow-run-as-root --oversubscribe --bind-to none -np "$RANKS")
[ "$RANKS" = 1 ] && launch=()
for objective in classify reward; do
  labels=2
  [ $objective = reward ] && labels=1
  t0=$SECONDS
  "${launch[@]}" "$ARENA" train -c configs/cpu-gemma3-270m.toml --model "$MODEL" --data "$data" \
    --train.objective $objective --model.num_labels $labels --out "$OUT/$objective" > "$OUT/$objective.log" 2>&1
  echo "=== $objective: $((SECONDS - t0)) s"
  grep -E "^(val|test)" "$OUT/$objective.log"
done
