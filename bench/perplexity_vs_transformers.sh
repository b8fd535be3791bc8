#!/usr/bin/env bash
# `arena perplexity` and transformers on the same GGUF, texts and tokenizer, on the CPU: load time,
# peak memory (max RSS), forward tokens/s and the mean loss of each side, one after the other.
#   bench/perplexity_vs_transformers.sh [GGUF] [--threads N]
# Defaults: the Gemma-3-270M that tools/setup.sh installs, the texts in tests/fixtures/text/.
set -euo pipefail
cd "$(dirname "$0")/.."
GGUF="${1:-${ARENA_GEMMA3_GGUF:-$HOME/.cache/arena/models/gemma-3-270m-q4_k_m.gguf}}"
THREADS="${ARENA_THREADS:-$(nproc)}"
TOK="${ARENA_SHARED_DIR:-../shared}/gemma/gemma3/tokenizer.model"
ARENA="${ARENA_BUILD_DIR:-build}/launch/arena"
mapfile -t texts < <(ls tests/fixtures/text/*.txt | grep -v shuffled)
args=()
for t in "${texts[@]}"; do args+=(--text "$t"); done
ours=$(OMP_NUM_THREADS=$THREADS "$ARENA" perplexity --model "$GGUF" --tokenizer "$TOK" "${args[@]}" --json | tail -1)
peer=$(python3 bench/peer_perplexity.py "$GGUF" "$TOK" "${texts[@]}" --threads "$THREADS" 2>/dev/null | tail -1)
python3 - "$ours" "$peer" <<'PY'
import json, sys
o, p = json.loads(sys.argv[1]), json.loads(sys.argv[2])
o_rate = (o["tokens"] + 3) / o["forward_s"]
print(f"{'':12} {'arena':>10} {'transformers':>13} {'ratio':>7}")
print(f"{'load s':12} {o['load_s']:10.2f} {p['load_s']:13.2f} {p['load_s'] / o['load_s']:6.1f}x")
print(f"{'tokens/s':12} {o_rate:10.0f} {p['tokens_per_s']:13.0f} {o_rate / p['tokens_per_s']:6.2f}x")
print(f"{'peak MiB':12} {o['peak_rss_mib']:10.0f} {p['peak_rss_mib']:13.0f} {o['peak_rss_mib'] / p['peak_rss_mib']:6.2f}x")
print(f"{'mean nll':12} {o['mean_nll']:10.5f} {p['mean_nll']:13.5f}")
PY
