#!/usr/bin/env bash
# Our QLoRA training step against Python peers, same settings, one invocation, one RATIO line per peer.
#   bench/gpu_vs_peer.sh [common options]     e.g. --batch 4 --seq 1900 --steps 5
#   PEERS="transformers unsloth" bench/gpu_vs_peer.sh --batch 4 --seq 1900
# Common options go to every side (see bench_train_step --help; the peers accept the same names):
# shape (--layers --hidden --intermediate --heads --kv-heads --head-dim --vocab), --batch --accum
# --seq --steps --warmup --rank --first-lora-layer --device --dtype --no-recompute --threads.
# PEERS (default "transformers"), run in the order given:
#   transformers       bench/peer_train_step.py: transformers + PEFT + bitsandbytes (eager attention)
#   transformers-fa2   the same with attn_implementation="flash_attention_2" (FlashAttention-2 with soft-capping)
#   unsloth            bench/peer_unsloth_step.py: Unsloth FastLanguageModel (+num_labels), CUDA only
#   unsloth-fastmodel  bench/peer_unsloth_step.py --loader model: Unsloth FastModel (+auto_model)
# Side-specific extras: ARENA_ARGS="--profile --attention eager", PEER_ARGS="--quant none --prepare-kbit"
# (transformers peer), UNSLOTH_ARGS="--gc true" (both Unsloth peers). PEER_TIMEOUT_S bounds each peer.
# UNSLOTH_SITE: a folder put first on PYTHONPATH for the Unsloth peers only (where tools/device_gpu_suite.sh
# installs the wheels of tools/fetch_unsloth_wheels.sh), so the transformers peer runs as before.
# FLASH_SITE: a folder holding flash_attn (the wheel of tools/build_flash_attn_wheel.sh), put on PYTHONPATH for
# transformers-fa2 and the Unsloth peers (Unsloth uses FlashAttention-2's soft-capping when it can import it).
# Binary: $ARENA_BENCH, else bench_train_step on PATH, else ${ARENA_BUILD_DIR:-build}/bench/bench_train_step.
# On CPU the peer's base is dense by default (PEER_ARGS="--quant nf4" tries bitsandbytes' CPU backend).
# A peer that fails prints the end of its log and makes the script exit 1 after the other peers ran.
set -euo pipefail
cd "$(dirname "$0")/.."
bin="${ARENA_BENCH:-$(command -v bench_train_step || echo "${ARENA_BUILD_DIR:-build}/bench/bench_train_step")}"
tmp=$(mktemp -d); trap 'rm -rf "$tmp"' EXIT
# shellcheck disable=SC2086
"$bin" "$@" ${ARENA_ARGS:-} --json | tee "$tmp/ours"
limit=()
[ -n "${PEER_TIMEOUT_S:-}" ] && limit=(timeout "$PEER_TIMEOUT_S")
fsite="${FLASH_SITE:+$FLASH_SITE${PYTHONPATH:+:}}${PYTHONPATH:-}"  # flash_attn: transformers-fa2, Unsloth
usite="${UNSLOTH_SITE:+$UNSLOTH_SITE${fsite:+:}}$fsite"  # Unsloth and its packages: Unsloth peers only
failed=0
for peer in ${PEERS:-transformers}; do
  case "$peer" in
    transformers) cmd=(python3 bench/peer_train_step.py) extra="${PEER_ARGS:-}" ;;
    transformers-fa2) cmd=(env "PYTHONPATH=$fsite" python3 bench/peer_train_step.py --attn flash_attention_2)
      extra="${PEER_ARGS:-}" ;;
    unsloth) cmd=(env "PYTHONPATH=$usite" python3 bench/peer_unsloth_step.py) extra="${UNSLOTH_ARGS:-}" ;;
    unsloth-fastmodel) cmd=(env "PYTHONPATH=$usite" python3 bench/peer_unsloth_step.py --loader model)
      extra="${UNSLOTH_ARGS:-}" ;;
    *) echo "gpu_vs_peer.sh: unknown peer '$peer' (transformers, transformers-fa2, unsloth, unsloth-fastmodel)" >&2
      exit 2 ;;
  esac
  # shellcheck disable=SC2086
  if ! "${limit[@]}" "${cmd[@]}" "$@" $extra --json 2> "$tmp/$peer.err" | tee "$tmp/$peer" ||
     ! tail -1 "$tmp/$peer" | grep -q '^{'; then
    echo "=== peer $peer failed; the end of its log:" >&2
    tail -30 "$tmp/$peer.err" >&2
    failed=1
    continue
  fi
  python3 - "$(tail -1 "$tmp/ours")" "$(tail -1 "$tmp/$peer")" <<'PY'
import json, sys
a, p = json.loads(sys.argv[1]), json.loads(sys.argv[2])
how = f"peer base {p['quant']}"
if p["impl"].startswith("transformers"):
    how += f", attention {p.get('attention', 'eager')}"
if p["impl"] == "unsloth":
    how += (f", {p['loader']}, checkpointing {p['gradient_checkpointing']}, attention {p['attention']}"
            + ("" if p.get("attention_softcap", True) else " (NO soft-capping)"))
line = (f"RATIO arena/{p['impl']} ({a['device']}, {a['batch']}x{a['seq']} x{a['accum']}, {a['dtype']}, "
        f"recompute {a['recompute']}, arena attention {a['attention']}, {how}): "
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
done
exit "$failed"
