#!/usr/bin/env bash
# `arena predict` against transformers + PEFT (+ bitsandbytes NF4) on the same trained adapter, the
# same base and the same token ids (issue 20 part 5): both sides' model time, rows/s and tokens/s,
# and how far apart their probabilities are.
#   1. `arena export` writes the run's adapter in PEFT's format (OUT/adapter);
#   2. `arena predict --probabilities` scores every row of DATA (OUT/arena.csv) and prints its model time;
#   3. bench/peer_predict.py loads the GGUF, quantizes it with bitsandbytes, puts the adapter on it
#      with PEFT and scores the rows of RUN_DIR/tokens.h5 (arena's token ids of the same file).
# DATA should be the file the run trained on, with every row kept under the run's labels (HH-RLHF
# pairs; a binary run on a file with ties keeps fewer rows in tokens.h5 than predict scores, and the
# script says so). Usage: bench/predict_vs_peer.sh RUN_DIR [DATA]
# Environment: MODEL (the run's model.path), ARENA (build/launch/arena), OUT (RUN_DIR/predict-vs-peer),
#   DEVICE (auto), THREADS (peer CPU threads: nproc), PEER_ARGS (extra peer_predict.py options)
set -euo pipefail
cd "$(dirname "$0")/.."
RUN="${1:?usage: bench/predict_vs_peer.sh RUN_DIR [DATA]}"
setting() { python3 -c "import sys, tomllib; print(tomllib.load(open(sys.argv[1], 'rb'))[sys.argv[2]][sys.argv[3]])" \
  "$RUN/config.toml" "$1" "$2"; }
DATA="${2:-$(setting data path)}"
MODEL="${MODEL:-$(setting model path)}"
ARENA="${ARENA:-build/launch/arena}"
OUT="${OUT:-$RUN/predict-vs-peer}"
DEVICE="${DEVICE:-auto}"
THREADS="${THREADS:-$(nproc)}"
[[ -f "$RUN/tokens.h5" ]] || { echo "predict_vs_peer.sh: $RUN/tokens.h5: the run kept no token cache" >&2; exit 1; }
[[ "$MODEL" == *.gguf ]] || { echo "predict_vs_peer.sh: MODEL=$MODEL: the peer loads a GGUF base" >&2; exit 1; }
mkdir -p "$OUT"

"$ARENA" export --checkpoint "$RUN" --out "$OUT/adapter" >/dev/null
"$ARENA" predict --checkpoint "$RUN" --data "$DATA" --probabilities --device "$DEVICE" --out "$OUT/arena.csv" \
  2>&1 | tee "$OUT/arena.log" | grep "^predict:" >&2
python3 bench/peer_predict.py "$RUN" --model "$MODEL" --adapter "$OUT/adapter" --arena-csv "$OUT/arena.csv" \
  --device "$DEVICE" --threads "$THREADS" --json "$OUT/peer.json" ${PEER_ARGS:-} \
  2> >(grep --line-buffered -v -e "Converting and de-quantizing" -e "^Loading weights" >&2)
python3 - "$OUT/arena.log" "$OUT/peer.json" <<'PY'
import json, re, sys
line = [l for l in open(sys.argv[1]) if "model time" in l][-1]
m = re.search(r"model time ([\d.]+) s for (\d+) rows, (\d+) tokens: ([\d.]+) rows/s, (\d+) tokens/s \((.*)\)", line)
ours = {"model_seconds": float(m[1]), "rows": int(m[2]), "tokens": int(m[3]), "rows_per_s": float(m[4]),
        "tokens_per_s": float(m[5]), "device": m[6]}
peer = json.load(open(sys.argv[2]))
print(f"arena predict: {ours['rows']} rows, {ours['tokens']} tokens in {ours['model_seconds']:.2f} s: "
      f"{ours['rows_per_s']:.1f} rows/s, {ours['tokens_per_s']:.0f} tokens/s ({ours['device']})")
print(f"peer ({peer['impl']}): {peer['rows']} rows, {peer['tokens']} tokens in {peer['model_seconds']:.2f} s: "
      f"{peer['rows_per_s']:.1f} rows/s, {peer['tokens_per_s']:.0f} tokens/s ({peer['device']}; load {peer['load_seconds']:.1f} s)")
if ours["rows"] != peer["rows"]:
    print(f"NOTE: the sides scored different rows ({ours['rows']} vs {peer['rows']}): compare tokens/s, not rows/s")
print(f"RATIO tokens/s arena / peer: {ours['tokens_per_s'] / peer['tokens_per_s']:.2f}x")
v = peer.get("vs_arena")
if v:
    print(f"probabilities on {v['common_rows']} common rows: max |dp| {v['max_abs_dp']:.2e}, mean {v['mean_abs_dp']:.2e}, "
          f"same predicted class {100 * v['same_prediction']:.1f} %")
PY
