#!/usr/bin/env bash
# On the lent GPU machine: arena against transformers + PEFT + bitsandbytes on the real Gemma-3-270M,
# same rows, split, token ids, starting adapters, micro-batches and schedule (bench/quality_vs_peer.sh),
# one process each, bf16. tools/device_train_bundle.sh packs what travels and says how; this runs
# as the last call, carrying .devtrain, .gg/p4 and .whl, with p0-p3 already in /tmp/gg.
# Usage: tools/device_quality_vs_peer.sh [PHASE...]   (hh lmsys autoj; default: all three)
# Results: $OUT/quality_vs_peer.tgz holding <phase>/{comparison.txt,comparison.json,peer.json,arena.log,
# peer.log,metrics.jsonl} (one file: the device returns at most 8 per call), rewritten after each phase.
set -uo pipefail
R=$PWD
OUT="${OUT:-$R/out}"
RES=/tmp/vs-results
mkdir -p /tmp/gg "$OUT" "$RES"
[ -f .gg/p4 ] && cp .gg/p4 /tmp/gg/
[ -f /tmp/g3.gguf ] || cat /tmp/gg/p0 /tmp/gg/p1 /tmp/gg/p2 /tmp/gg/p3 /tmp/gg/p4 > /tmp/g3.gguf
sha256sum /tmp/g3.gguf
[ -x /tmp/a/arena ] || { mkdir -p /tmp/a && tar xJf .devtrain/.devtrain.tar.xz -C /tmp/a; }
python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
  2>&1 | tail -2
export PYTHONPATH=/tmp/site
TL=$(python3 -c 'import os, torch; print(os.path.dirname(torch.__file__) + "/lib")')
NL=$(python3 -c 'import nvidia.nccl as n; print(list(n.__path__)[0] + "/lib")')
export LD_LIBRARY_PATH=/tmp/a/lib:$TL:$NL
python3 -c 'import transformers, peft, bitsandbytes, torch; print("transformers", transformers.__version__, "peft",
  peft.__version__, "bitsandbytes", bitsandbytes.__version__, "torch", torch.__version__, torch.cuda.get_device_name())'
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader

export MODEL=/tmp/g3.gguf ARENA=/tmp/a/arena RANKS=1 ROWS=0 TOKENIZER=/tmp/a/shared/gemma/gemma3/tokenizer.model
export PEER_ARGS="--device cuda" CONFIG="$R/configs/cpu-gemma3-270m.toml"
gpu=(--device cuda --backend nccl --model.precision bf16 --batch.tokens 16384 --batch.rows 16 --batch.eval_rows 64)
phase() {  # name limit_s data args...
  local name=$1 limit=$2 data=$3; shift 3
  echo "=== $name: $data $*"
  local t0=$SECONDS
  OUT="/tmp/vs/$name" DATA="/tmp/a/shared/data/$data" timeout "$limit" "$R/bench/quality_vs_peer.sh" "${gpu[@]}" "$@" \
    > "/tmp/vs-$name.log" 2>&1
  echo "=== $name: rc=$?, $((SECONDS - t0)) s"
  mkdir -p "$RES/$name"
  cp /tmp/vs/$name/{comparison.txt,comparison.json,peer.json,arena.log,peer.log} "$RES/$name/" 2>/dev/null
  cp "/tmp/vs/$name/arena/metrics.jsonl" "$RES/$name/" 2>/dev/null
  cp "/tmp/vs-$name.log" "$RES/$name/all.log"
  tar czf "$OUT/quality_vs_peer.tgz" -C "$RES" .
  cat "$RES/$name/comparison.txt" 2>/dev/null || tail -20 "/tmp/vs-$name.log"
}
for p in ${*:-hh lmsys autoj}; do
  case $p in
    # the best HH-RLHF setting of the earlier sweep (docs/quality.md): 1024 tokens, 4 epochs, all layers
    hh) phase hh-base-1024-e4 220 hh-rlhf-helpful-base-test.jsonl.gz --max-len 1024 --epochs 4 --lr 3e-4 \
          --lora.first_layer 0 --lora.rank 16 --lora.alpha 32 ;;
    # the same in 2 epochs (the 4-epoch peer needs about 300 s on an H200)
    hh-e2) phase hh-base-1024-e2 215 hh-rlhf-helpful-base-test.jsonl.gz --max-len 1024 --epochs 2 --lr 3e-4 \
          --lora.first_layer 0 --lora.rank 16 --lora.alpha 32 ;;
    # LMSYS 3-class: the setting whose log loss beat the label prior
    lmsys) phase lmsys-3class-1024-e3 170 lmsys-arena-train-head1000.csv --labels 3class --model.num_labels 3 \
             --max-len 1024 --epochs 3 --lr 2e-4 --lora.first_layer 6 --lora.rank 16 --lora.alpha 32 ;;
    # Auto-J at the full 1900 tokens
    autoj) phase autoj-1900-e3 170 autoj-pairwise.jsonl --max-len 1900 --epochs 3 --lr 2e-4 --lora.first_layer 6 \
             --lora.rank 16 --lora.alpha 32 ;;
  esac
done
