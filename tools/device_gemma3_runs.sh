#!/usr/bin/env bash
# Real Gemma-3-270M preference runs on the lent GPU machine (the `run` device tool), one process,
# bf16, NCCL backend (world of one). The GGUF (253 MB) exceeds one call's carry, so it travels in
# 56 MB parts: split -b 56000000 -d -a 1 GGUF .gg/p, then one call per part with
#   run(carry=[".gg/pK"], command="mkdir -p /tmp/gg && cp .gg/pK /tmp/gg/")
# while the machine stays warm, and last this script with carry=[".devtrain", ".gg/p4"] (.devtrain:
# the arena binary, its non-torch libraries, the data and the Gemma-3 tokenizer; recipe in
# docs/benchmarks.md, "The trainer itself on one H100"). Results: $OUT/<run>/{train.log,metrics.jsonl}.
set -uo pipefail
R=$PWD
OUT="${OUT:-$R/out}"
[ -f .gg/p4 ] && cp .gg/p4 /tmp/gg/
cat /tmp/gg/p0 /tmp/gg/p1 /tmp/gg/p2 /tmp/gg/p3 /tmp/gg/p4 > /tmp/g3.gguf
sha256sum /tmp/g3.gguf | tee "$OUT/sha256.txt"
mkdir -p /tmp/a && tar xJf .devtrain/.devtrain.tar.xz -C /tmp/a
TL=$(python3 -c 'import os, torch; print(os.path.dirname(torch.__file__) + "/lib")')
NL=$(python3 -c 'import nvidia.nccl as n; print(list(n.__path__)[0] + "/lib")')
export LD_LIBRARY_PATH=/tmp/a/lib:$TL:$NL
cd /tmp/a
common=(-c "$R/configs/cpu-gemma3-270m.toml" --model /tmp/g3.gguf --tokenizer shared/gemma/gemma3/tokenizer.model
        --device cuda --backend nccl --model.precision bf16 --batch.tokens 16384 --batch.rows 16 --batch.eval_rows 64)
run() {  # name limit_s args...
  local name=$1 limit=$2; shift 2
  mkdir -p "$OUT/$name"
  echo "=== $name: $*"
  local t0=$SECONDS
  timeout "$limit" ./arena train "${common[@]}" --out "/tmp/runs/$name" "$@" > "$OUT/$name/train.log" 2>&1
  echo "=== $name: rc=$?, $((SECONDS - t0)) s"
  cp "/tmp/runs/$name/metrics.jsonl" "$OUT/$name/" 2>/dev/null
  grep -E "^(val|test)|^step .*/" "$OUT/$name/train.log" | tail -4
}
phases="${*:-autoj hh lmsys}"
for p in $phases; do
  case $p in
    autoj) run autoj-1024-e3 170 --data shared/data/autoj-pairwise.jsonl --max-len 1024 --epochs 3 --lr 2e-4 \
             --lora.first_layer 6 --lora.rank 16 --lora.alpha 32 ;;
    hh) run hh-base-1024-e2 170 --data shared/data/hh-rlhf-helpful-base-test.jsonl.gz --max-len 1024 --epochs 2 \
          --lr 2e-4 --lora.first_layer 6 --lora.rank 16 --lora.alpha 32 ;;
    lmsys) run lmsys-3class-1024-e3 170 --data shared/data/lmsys-arena-train-head1000.csv --labels 3class \
             --model.num_labels 3 --max-len 1024 --epochs 3 --lr 2e-4 --lora.first_layer 6 --lora.rank 16 --lora.alpha 32 ;;
    autoj-sweep)  # longer inputs, more epochs, adapters on every layer, two learning rates
      run autoj-1900-e6-all-lr3e-4 170 --data shared/data/autoj-pairwise.jsonl --max-len 1900 --epochs 6 --lr 3e-4 \
        --lora.first_layer 0 --lora.rank 16 --lora.alpha 32
      run autoj-1024-e6-l6-lr5e-4 170 --data shared/data/autoj-pairwise.jsonl --max-len 1024 --epochs 6 --lr 5e-4 \
        --lora.first_layer 6 --lora.rank 16 --lora.alpha 32 ;;
    hh-sweep) run hh-base-1024-e4-all-lr3e-4 170 --data shared/data/hh-rlhf-helpful-base-test.jsonl.gz --max-len 1024 \
        --epochs 4 --lr 3e-4 --lora.first_layer 0 --lora.rank 16 --lora.alpha 32 ;;
    hh-seeds)  # the best HH setting again with two more seeds (same split: data.split_seed is apart)
      for seed in 1 2; do
        run "hh-base-1024-e4-all-lr3e-4-seed$seed" 170 --data shared/data/hh-rlhf-helpful-base-test.jsonl.gz \
          --max-len 1024 --epochs 4 --lr 3e-4 --lora.first_layer 0 --lora.rank 16 --lora.alpha 32 --train.seed "$seed"
      done ;;
    lengths)  # the headings state each answer's length (data.show_lengths): HH over 3 seeds, Auto-J once
      for seed in 0 1 2; do
        run "hh-base-1024-e4-all-lr3e-4-lengths-seed$seed" 170 --data shared/data/hh-rlhf-helpful-base-test.jsonl.gz \
          --max-len 1024 --epochs 4 --lr 3e-4 --lora.first_layer 0 --lora.rank 16 --lora.alpha 32 --train.seed "$seed" \
          --data.show_lengths true
      done
      run autoj-1024-e4-all-lr3e-4-lengths 170 --data shared/data/autoj-pairwise.jsonl --max-len 1024 --epochs 4 \
        --lr 3e-4 --lora.first_layer 0 --lora.rank 16 --lora.alpha 32 --data.show_lengths true ;;
    lmsys-sweep) run lmsys-3class-1900-e6-all-lr3e-4 170 --data shared/data/lmsys-arena-train-head1000.csv \
        --labels 3class --model.num_labels 3 --max-len 1900 --epochs 6 --lr 3e-4 --lora.first_layer 0 --lora.rank 16 \
        --lora.alpha 32 ;;
  esac
done
