#!/usr/bin/env bash
# Forward and forward+backward time of the C++ model vs transformers, same config, same shapes,
# same thread count, one invocation. Needs `pip install transformers` and a build (tools/test.sh).
#   bench/cpu_vs_transformers.sh [--batch 4] [--seq 256] [--threads 2] [--dtype f32|bf16]
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD="${ARENA_BUILD_DIR:-build}"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
python3 bench/peer_transformers_cpu.py --write-config "$tmp/config.json" 2>/dev/null
ours=$("$BUILD"/bench/bench_gemma2_cpu --config "$tmp/config.json" "$@")
peer=$(python3 bench/peer_transformers_cpu.py "$@" 2>/dev/null | tail -1)
echo "$ours"
echo "$peer"
python3 - "$ours" "$peer" <<'PY'
import json, sys
a, p = json.loads(sys.argv[1]), json.loads(sys.argv[2])
print(f"ratio transformers/arena: forward {p['forward_ms'] / a['forward_ms']:.2f}x, "
      f"forward+backward {p['forward_backward_ms'] / a['forward_backward_ms']:.2f}x "
      f"(>1 means arena is faster; {a['batch']}x{a['seq']} tokens, {a['threads']} threads, {a['dtype']})")
PY
