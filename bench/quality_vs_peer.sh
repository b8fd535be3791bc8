#!/usr/bin/env bash
# arena against transformers + PEFT (+ bitsandbytes NF4) on the same real model, rows, split, token
# ids, starting adapters, micro-batches and schedule; one invocation prints both loss curves, test
# accuracy and log loss (95 % intervals) beside the baselines, and both wall times.
#   1. `arena train` (mpirun -np RANKS, or one process when RANKS=1) with train.log_batches, which
#      leaves split.json, batches.jsonl, initial_adapter/ and tokens.h5 in the run directory;
#   2. bench/peer_train.py replays that run with transformers + PEFT (+ bitsandbytes);
#   3. bench/compare_runs.py prints the two side by side and writes OUT/comparison.json;
#      OUT/peer is the peer as a run directory: `arena report OUT/arena OUT/peer` overlays the curves.
# Usage: bench/quality_vs_peer.sh [extra `arena train` options]
# Environment (defaults: the reduced CPU run, a few minutes a side on the 2-core machine):
#   DATA    data file (../shared/data/autoj-pairwise.jsonl)   ROWS  keep the file's first ROWS rows (300; 0: all)
#   CONFIG  arena config (configs/cpu-gemma3-270m.toml)       RANKS arena ranks (2)
#   MODEL   the GGUF (~/.cache/arena/models/gemma-3-270m-q4_k_m.gguf)
#   OUT     output directory (runs/vs-peer)   ARENA  the binary (build/launch/arena)
#   TOKENIZER  the Gemma-3 tokenizer.model (../shared/gemma/gemma3/tokenizer.model)
#   PEER_ARGS  extra peer_train.py options (e.g. --device cuda)   THREADS  peer CPU threads (nproc)
set -euo pipefail
cd "$(dirname "$0")/.."
DATA="${DATA:-../shared/data/autoj-pairwise.jsonl}"
ROWS="${ROWS:-300}"
CONFIG="${CONFIG:-configs/cpu-gemma3-270m.toml}"
RANKS="${RANKS:-2}"
MODEL="${MODEL:-${ARENA_MODELS_DIR:-$HOME/.cache/arena/models}/gemma-3-270m-q4_k_m.gguf}"
OUT="${OUT:-runs/vs-peer}"
ARENA="${ARENA:-build/launch/arena}"
THREADS="${THREADS:-$(nproc)}"
[[ -f "$MODEL" ]] || { echo "quality_vs_peer.sh: $MODEL: no such GGUF (tools/setup.sh installs it)" >&2; exit 1; }
[[ -x "$ARENA" ]] || { echo "quality_vs_peer.sh: $ARENA: not built (cmake --build build --target arena)" >&2; exit 1; }
python3 -c "import transformers, peft, h5py" 2>/dev/null ||
  { echo "quality_vs_peer.sh: the peer needs: pip install transformers peft h5py bitsandbytes gguf" >&2; exit 1; }

rm -rf "$OUT"
mkdir -p "$OUT"
if (( ROWS > 0 )); then  # the first ROWS rows, as the file has them (.jsonl[.gz] lines or .csv records)
  name="$(basename "$DATA")"
  SUBSET="$OUT/${name%%.*}-first$ROWS.${name#*.}"
  python3 - "$DATA" "$SUBSET" "$ROWS" <<'PY'
import csv, gzip, sys
src, dst, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
opener = gzip.open if src.endswith(".gz") else open
with opener(src, "rt", newline="") as f, opener(dst, "wt", newline="") as g:
    if ".csv" in src:
        r, w = csv.reader(f), csv.writer(g, lineterminator="\n")
        for i, row in enumerate(r):
            if i > n: break
            w.writerow(row)
    else:
        for i, line in enumerate(f):
            if i >= n: break
            g.write(line)
PY
  DATA="$SUBSET"
fi

LAUNCH=()
if (( RANKS > 1 )); then
  LAUNCH=(mpirun -np "$RANKS" --bind-to none)
  [[ "$(id -u)" == 0 ]] && LAUNCH+=(--allow-run-as-root)
  (( RANKS > $(nproc) )) && LAUNCH+=(--oversubscribe)
fi
TOKENIZER="${TOKENIZER:-${ARENA_SHARED_DIR:-../shared}/gemma/gemma3/tokenizer.model}"

echo "== arena: $RANKS rank(s), $DATA" >&2
t0=$(date +%s.%N)
"${LAUNCH[@]}" "$ARENA" train -c "$CONFIG" --model "$MODEL" --data "$DATA" --tokenizer "$TOKENIZER" \
  --out "$OUT/arena" --train.log_batches true "$@" 2>&1 | tee "$OUT/arena.log" >&2
t1=$(date +%s.%N)
echo "== peer: transformers + PEFT, replaying $OUT/arena" >&2
python3 bench/peer_train.py "$OUT/arena" --model "$MODEL" --threads "$THREADS" --json "$OUT/peer.json" --run-dir "$OUT/peer" \
  ${PEER_ARGS:-} 2> >(grep --line-buffered -v -e "kernels-community" -e "Converting and de-quantizing" -e "^Loading weights" \
  | tee "$OUT/peer.log" >&2)
echo
python3 bench/compare_runs.py "$OUT/arena" "$OUT/peer.json" --ours-wall "$(python3 -c "print($t1 - $t0)")" \
  --json "$OUT/comparison.json" | tee "$OUT/comparison.txt"
echo "curves of both sides: build/launch/arena report $OUT/arena $OUT/peer   (writes $OUT/arena/report/index.html)" >&2
