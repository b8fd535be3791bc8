#!/usr/bin/env bash
# Our QLoRA training step against transformers + PEFT + bitsandbytes, same settings, one invocation.
#   bench/gpu_vs_peer.sh [common options]     e.g. --batch 4 --seq 1900 --steps 5
# Common options go to both sides (see bench_train_step --help; the peer accepts the same names):
# shape (--layers --hidden --intermediate --heads --kv-heads --head-dim --vocab), --batch --accum
# --seq --steps --warmup --rank --first-lora-layer --device --dtype --no-recompute --threads.
# Side-specific extras: ARENA_ARGS="--profile --attention eager", PEER_ARGS="--quant none --prepare-kbit".
# Binary: $ARENA_BENCH, else bench_train_step on PATH, else ${ARENA_BUILD_DIR:-build}/bench/bench_train_step.
# On CPU the peer's base is dense by default (PEER_ARGS="--quant nf4" tries bitsandbytes' CPU backend).
set -euo pipefail
cd "$(dirname "$0")/.."
bin="${ARENA_BENCH:-$(command -v bench_train_step || echo "${ARENA_BUILD_DIR:-build}/bench/bench_train_step")}"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
# shellcheck disable=SC2086
"$bin" "$@" ${ARENA_ARGS:-} --json | tee "$tmp/ours"
# shellcheck disable=SC2086
python3 bench/peer_train_step.py "$@" ${PEER_ARGS:-} --json 2> "$tmp/peer.err" | tee "$tmp/peer" ||
  { tail -20 "$tmp/peer.err"; exit 1; }
python3 - "$(tail -1 "$tmp/ours")" "$(tail -1 "$tmp/peer")" <<'PY'
import json, sys
a, p = json.loads(sys.argv[1]), json.loads(sys.argv[2])
line = (f"RATIO arena/{p['impl']} ({a['device']}, {a['batch']}x{a['seq']} x{a['accum']}, {a['dtype']}, "
        f"recompute {a['recompute']}, arena attention {a['attention']}, peer base {p['quant']}): "
        f"tokens/s {a['tokens_per_s'] / p['tokens_per_s']:.2f}x ({a['tokens_per_s']:.0f} vs {p['tokens_per_s']:.0f})")
if p.get("peak_allocated_gib"):
    line += (f", peak allocated {a['peak_allocated_gib'] / p['peak_allocated_gib']:.2f}x "
             f"({a['peak_allocated_gib']:.2f} vs {p['peak_allocated_gib']:.2f} GiB)"
             f", peak reserved {a['peak_reserved_gib'] / p['peak_reserved_gib']:.2f}x "
             f"({a['peak_reserved_gib']:.2f} vs {p['peak_reserved_gib']:.2f} GiB)")
line += (f", MFU {100 * a['mfu']:.1f}% vs {100 * p['mfu']:.1f}% (LoRA convention), "
         f"HFU {100 * a['hfu']:.1f}% vs {100 * p['hfu']:.1f}% (with recomputation)")
print(line)
PY
