#!/usr/bin/env bash
# The GPU checks and benchmarks of issue 6, in one call of the device tool (see tools/device_bundle.sh):
#   run(carry=[".devbundle"], command="tools/device_gpu_suite.sh [phases]")
# Phases (default: all but flash, graph, small, lora, recompute, cpu, unsloth, unsloth-fm and fa2): info tests
# dequant attn train flash graph small lora recompute peer vs cpu unsloth unsloth-fm fa2. flash: the flash
# attention kernels' tests, compute-sanitizer and steps; graph: a step captured as a CUDA graph against the same
# step op by op; small: the Gemma-3-270M shape at seq 2048 against transformers + PEFT + bitsandbytes.
# ARENA_ARGS adds options to our side of the vs phase (e.g. ARENA_ARGS="--embedding device").
# unsloth: our step against Unsloth (bench/peer_unsloth_step.py, FastLanguageModel) and transformers + PEFT +
# bitsandbytes at batch 4, seq 1900, in one bench/gpu_vs_peer.sh (issue 20); unsloth-fm: the same with Unsloth's
# FastModel loader. Both need the wheels of tools/fetch_unsloth_wheels.sh carried:
#   run(carry=[".devbundle", ".whl-unsloth"], command="tools/device_gpu_suite.sh unsloth")
# fa2: our step against transformers with FlashAttention-2 (attn_implementation="flash_attention_2", soft-capped),
# and against Unsloth using it when .whl-unsloth is carried too; needs the wheel of tools/build_flash_attn_wheel.sh:
#   run(carry=[".devbundle", ".whl-flash", ".whl-unsloth"], command="tools/device_gpu_suite.sh fa2")
# and install them offline once per machine into .devsite/ (ignored, kept between calls on a warm machine).
# Logs go to $OUT (or ./out) as suite.log (everything) and results.jsonl (the JSON lines); each step has
# its own time limit.
set -uo pipefail
cd "$(dirname "$0")/.."
source tools/device_env.sh
OUT="${OUT:-$PWD/out}"
mkdir -p "$OUT"
phases="${*:-info tests dequant attn train peer vs}"
BATCHES="${ARENA_BATCHES:-1 4}"
log="$OUT/suite.log"
step() {  # step LIMIT_S NAME COMMAND...
  local limit=$1 name=$2; shift 2
  echo "=== $name: $*" | tee -a "$log"
  local t0=$SECONDS
  timeout "$limit" "$@" 2>&1 | tee -a "$log"
  local rc=${PIPESTATUS[0]}
  echo "=== $name: rc=$rc, $((SECONDS - t0)) s" | tee -a "$log"
  return "$rc"
}
has() { [[ " $phases " == *" $1 "* ]]; }
# The Gemma-3-270M shape (graph and small phases), for bench_train_step and the peers
shape_270m="--layers 18 --hidden 640 --intermediate 2048 --heads 4 --kv-heads 1 --head-dim 256 --vocab 262144"
vs_collect() {  # vs_collect LIMIT NAME COMMAND...: a step whose new JSON lines go to results.jsonl
  local n0; n0=$(grep -c '^{' "$log" 2>/dev/null || true)
  step "$@"
  grep -h '^{' "$log" | tail -n +"$((n0 + 1))" >> "$OUT/results.jsonl"
}

install_once() {  # install_once SITE NAME WHEEL...: pip-installs the wheels offline into SITE once per wheel set
  local site=$1 name=$2 stamp; shift 2
  stamp=$(printf '%s\n' "$@" | md5sum)
  [ "$(cat "$site/.stamp" 2>/dev/null)" = "$stamp" ] && return 0
  rm -rf "$site"
  step 180 "$name" python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --target "$site" "$@" ||
    return 1
  echo "$stamp" > "$site/.stamp"
}
flash_ready() {  # the wheel of tools/build_flash_attn_wheel.sh, installed offline once per machine into .devflash/
  local site="$PWD/.devflash" w
  w=$(ls .whl-flash/flash_attn-*.whl 2>/dev/null | head -1)
  if [ -n "$w" ]; then
    install_once "$site" flash-attn-install "$w" || return 1
  elif [ ! -f "$site/.stamp" ]; then
    echo "=== fa2: no .whl-flash/flash_attn-*.whl and nothing in .devflash/ (run tools/build_flash_attn_wheel.sh" \
      "here and carry .whl-flash)" | tee -a "$log"
    return 1
  fi
  step 60 flash-attn-import env PYTHONPATH="$site" python3 -c \
    "import flash_attn, flash_attn_2_cuda; print('flash_attn', flash_attn.__version__)" || return 1
}
if has info; then
  step 30 gpu nvidia-smi --query-gpu=name,memory.total,driver_version,clocks.max.sm,power.limit --format=csv
  step 60 gemm-peak python3 -c "
import torch, time
a = torch.randn(8192, 8192, device='cuda', dtype=torch.bfloat16); b = torch.randn_like(a)
for _ in range(3): a @ b
torch.cuda.synchronize(); t = time.perf_counter()
for _ in range(20): a @ b
torch.cuda.synchronize(); dt = (time.perf_counter() - t) / 20
x = torch.empty(2**30, dtype=torch.uint8, device='cuda'); x.clone(); torch.cuda.synchronize(); t = time.perf_counter()
for _ in range(10): x.clone()
torch.cuda.synchronize(); dc = (time.perf_counter() - t) / 10
print(f'torch {torch.__version__}: bf16 8192^3 matmul {2 * 8192**3 / dt / 1e12:.0f} TFLOP/s; 1 GiB copy {2 * 2**30 / dc / 1e9:.0f} GB/s (read+write)')"
fi
if has tests; then
  step 180 test_nf4_cuda test_nf4_cuda
  step 300 test_fused_cuda test_fused_cuda
fi
if has dequant; then
  step 120 bench_nf4_dequant bench_nf4_dequant
  step 120 bench_nf4_dequant_q bench_nf4_dequant --rows 2048 --cols 2304
fi
if has attn; then  # the attention core alone, fused (and flash) against eager, at batch 4 and 1
  for b in 4 1; do
    step 180 "attention-b$b" bench_attention --batch "$b" --seq 1900 --json
    grep -h '^{' "$log" | tail -3 >> "$OUT/results.jsonl"
  done
fi
if has train; then
  for b in $BATCHES; do
    step 300 "arena-fused-b$b" bench_train_step --batch "$b" --seq 1900 --steps 5 --warmup 2 --profile --json
    grep -h '^{' "$log" | tail -1 >> "$OUT/results.jsonl"
  done
  step 300 "arena-eager-b4" bench_train_step --batch 4 --seq 1900 --steps 3 --warmup 1 --attention eager \
    --no-fused-elementwise --profile --json
  grep -h '^{' "$log" | tail -1 >> "$OUT/results.jsonl"
  step 300 "arena-fused-attention-only-b4" bench_train_step --batch 4 --seq 1900 --steps 3 --warmup 1 \
    --no-fused-elementwise --profile --json
  grep -h '^{' "$log" | tail -1 >> "$OUT/results.jsonl"
  step 300 "arena-embedding-on-device-b4" bench_train_step --batch 4 --seq 1900 --steps 5 --warmup 2 \
    --embedding device --json
  grep -h '^{' "$log" | tail -1 >> "$OUT/results.jsonl"
  step 300 "arena-all-lora-dropout-kernels-b4" bench_train_step --batch 4 --seq 1900 --steps 5 --warmup 2 \
    --lora-dropout-kernels down,input-grad,weight-grad --json
  grep -h '^{' "$log" | tail -1 >> "$OUT/results.jsonl"
fi
if has flash; then  # the flash kernels (issue 20): their tests, the step with the fused core and with flash at
  # batches 4 and 1, compute-sanitizer on the kernels last (the longest and the least needed for the figures)
  step 300 test-flash test_fused_cuda --gtest_filter='*Flash*:*ClassifierFused*'
  step 180 attention-flash-b4 bench_attention --batch 4 --seq 1900 --json
  grep -h '^{' "$log" | tail -3 >> "$OUT/results.jsonl"
  # The step as the trainer runs it (fp32 adapters read through bf16 compute copies, AdamW on the flat bucket)
  # with the fused core; the same with each adapter cast at every use (before ad13e7c); then the same step as
  # this benchmark ran before 2026-12-05 (adapters in bf16, torch::optim::AdamW per tensor)
  step 300 "arena-fused-b4" bench_train_step --batch 4 --seq 1900 --steps 5 --warmup 2 --profile --json
  grep -h '^{' "$log" | tail -1 >> "$OUT/results.jsonl"
  step 300 "arena-fused-b4-cast" bench_train_step --batch 4 --seq 1900 --steps 5 --warmup 2 --no-compute-copies \
    --json
  grep -h '^{' "$log" | tail -1 >> "$OUT/results.jsonl"
  step 300 "arena-fused-b4-before" bench_train_step --batch 4 --seq 1900 --steps 5 --warmup 2 \
    --adapter-dtype compute --optimizer torch --profile --json
  grep -h '^{' "$log" | tail -1 >> "$OUT/results.jsonl"
  for b in 4 1; do
    step 300 "arena-flash-b$b" bench_train_step --batch "$b" --seq 1900 --steps 5 --warmup 2 --attention flash \
      --profile --json
    grep -h '^{' "$log" | tail -1 >> "$OUT/results.jsonl"
  done
  # compute-sanitizer from the image, or from the wheel of tools/fetch_sanitizer.sh (carry .whl-sanitizer),
  # on the flash kernels only (kns: a substring of their mangled names).
  sanitizer=$(command -v compute-sanitizer || ls /usr/local/cuda*/bin/compute-sanitizer 2>/dev/null | head -1)
  whl=$(ls .whl-sanitizer/nvidia_cuda_sanitizer_api-*.whl 2>/dev/null | head -1)
  if [ -z "$sanitizer" ] && [ -n "$whl" ]; then
    [ -x .devsite/sanitizer/nvidia/cu13/bin/compute-sanitizer ] ||
      { python3 -m zipfile -e "$whl" .devsite/sanitizer &&
        chmod +x .devsite/sanitizer/nvidia/cu13/bin/compute-sanitizer; }
    sanitizer=.devsite/sanitizer/nvidia/cu13/bin/compute-sanitizer
  fi
  if [ -n "$sanitizer" ]; then
    for tool in memcheck racecheck synccheck initcheck; do
      step 300 "sanitizer-$tool" "$sanitizer" --tool "$tool" --kernel-name kns=flash --error-exitcode 1 \
        test_fused_cuda --gtest_filter='*FlashKernelsShortSequences*'
    done
  else
    echo "=== sanitizer: no compute-sanitizer (run tools/fetch_sanitizer.sh here, carry .whl-sanitizer)" |
      tee -a "$log"
  fi
fi
if has graph; then  # one step as a CUDA graph against the same step launched op by op (launch gaps), the 2B and
  # the Gemma-3-270M shapes at batch 4 (a timing experiment: bench/cuda_graph_step.h)
  for shape in 2b 270m; do
    if [ "$shape" = 2b ]; then args="--seq 1900"; else args="$shape_270m --first-lora-layer 9 --rank 8 --seq 2048"; fi
    for mode in ops graph; do
      extra=""; [ "$mode" = graph ] && extra="--cuda-graph"
      # shellcheck disable=SC2086
      step 240 "arena-$shape-$mode-b4" bench_train_step --batch 4 $args --steps 3 --warmup 1 --embedding device \
        $extra --json
      grep -h '^{' "$log" | tail -1 >> "$OUT/results.jsonl"
    done
  done
fi
if has small; then  # issue 20 part 4: the Gemma-3-270M shape at seq 2048, ours beside transformers + PEFT + bnb
  small_peers="transformers"  # and transformers with FlashAttention-2 where its wheel is carried (.whl-flash)
  flash_ready && small_peers="transformers transformers-fa2"
  # shellcheck disable=SC2086
  vs_collect 480 vs-270m-b4 env PEERS="$small_peers" FLASH_SITE="$PWD/.devflash" \
    ARENA_ARGS="--profile ${ARENA_ARGS:-}" bench/gpu_vs_peer.sh --batch 4 $shape_270m --first-lora-layer 9 --rank 8 \
    --seq 2048 --steps 5 --warmup 2
fi
if has lora; then  # each subset of the three LoRA dropout kernels at batch 4
  for k in down,input-grad,weight-grad none input-grad,weight-grad down input-grad weight-grad; do
    step 300 "arena-lora-dropout-$k-b4" bench_train_step --batch 4 --seq 1900 --steps 5 --warmup 2 \
      --lora-dropout-kernels "$k" --json
    grep -h '^{' "$log" | tail -1 >> "$OUT/results.jsonl"
  done
fi
if has recompute; then  # the recomputation dial at batch 4: all 20 adapter layers, 10, 5, then none (issue 20)
  for n in -1 10 5; do
    step 300 "arena-recompute-$n-b4" bench_train_step --batch 4 --seq 1900 --steps 5 --warmup 2 --recompute-layers "$n" --json
    grep -h '^{' "$log" | tail -1 >> "$OUT/results.jsonl"
  done
  step 300 "arena-no-recompute-b4" bench_train_step --batch 4 --seq 1900 --steps 5 --warmup 2 --no-recompute --json
  grep -h '^{' "$log" | tail -1 >> "$OUT/results.jsonl"
fi
if has vs; then  # the driver: ours and the peer in one invocation, ratio printed
  for b in ${VS_BATCHES:-4 8}; do
    step 480 "vs-b$b" env ARENA_ARGS="--profile ${ARENA_ARGS:-}" bench/gpu_vs_peer.sh --batch "$b" --seq 1900 --steps 5 --warmup 2
    grep -h '^{' "$log" | tail -2 >> "$OUT/results.jsonl"
  done
fi
if has peer; then
  for b in $BATCHES; do
    step 420 "peer-b$b" python3 bench/peer_train_step.py --batch "$b" --seq 1900 --steps 5 --warmup 2 --json
    grep -h '^{' "$log" | tail -1 >> "$OUT/results.jsonl"
  done
fi
unsloth_ready() {  # the wheels of tools/fetch_unsloth_wheels.sh, installed offline once per machine into .devsite/
  local site="$PWD/.devsite" w wheels=() bnb=()
  for w in .whl-unsloth/*.whl; do
    [ -e "$w" ] || continue
    if [[ $w == */bitsandbytes-* ]]; then bnb+=("$w"); else wheels+=("$w"); fi
  done
  if [ ${#wheels[@]} -gt 0 ]; then
    install_once "$site/py" unsloth-install "${wheels[@]}" || return 1
    if [ ${#bnb[@]} -gt 0 ]; then install_once "$site/bnb" bnb-install "${bnb[@]}" || return 1; fi
  elif [ ! -f "$site/py/.stamp" ]; then
    echo "=== unsloth: no .whl-unsloth/*.whl and nothing in .devsite/ (run tools/fetch_unsloth_wheels.sh here and" \
      "carry .whl-unsloth)" | tee -a "$log"
    return 1
  fi
  # bitsandbytes for both peers where the bundle lacks it (tools/device_bundle.sh puts it in .devbundle/py)
  if ! python3 -c "import bitsandbytes" 2>/dev/null && [ -d "$site/bnb/bitsandbytes" ]; then
    export PYTHONPATH="$site/bnb${PYTHONPATH:+:$PYTHONPATH}"
  fi
  export UNSLOTH_SITE="$site/py"  # first on PYTHONPATH for the Unsloth peers only (bench/gpu_vs_peer.sh)
}
if has unsloth && unsloth_ready; then  # Unsloth first: the transformers peer is known (802 ms at batch 4 on the H100)
  vs_collect "${UNSLOTH_LIMIT_S:-500}" vs-unsloth-b4 env PEERS="${UNSLOTH_PEERS:-unsloth transformers}" \
    ARENA_ARGS="--profile ${ARENA_ARGS:-}" PEER_TIMEOUT_S="${PEER_TIMEOUT_S:-300}" bench/gpu_vs_peer.sh --batch 4 --seq 1900 --steps 5 --warmup 2
fi
if has unsloth-fm && unsloth_ready; then  # FastModel + auto_model; its attention is Unsloth's choice (see the RATIO line)
  vs_collect "${UNSLOTH_LIMIT_S:-500}" vs-unsloth-fastmodel-b4 env PEERS=unsloth-fastmodel \
    ARENA_ARGS="--profile ${ARENA_ARGS:-}" PEER_TIMEOUT_S="${PEER_TIMEOUT_S:-300}" bench/gpu_vs_peer.sh --batch 4 --seq 1900 --steps 5 --warmup 2
fi
if has fa2 && flash_ready; then  # transformers with FlashAttention-2 (soft-capped), and Unsloth with it where carried
  fa2_peers="transformers-fa2"
  unsloth_ready && fa2_peers="transformers-fa2 unsloth"
  vs_collect "${FA2_LIMIT_S:-500}" vs-fa2-b4 env PEERS="${FA2_PEERS:-$fa2_peers}" FLASH_SITE="$PWD/.devflash" \
    ARENA_ARGS="--profile ${ARENA_ARGS:-}" PEER_TIMEOUT_S="${PEER_TIMEOUT_S:-300}" bench/gpu_vs_peer.sh --batch 4 \
    --seq 1900 --steps 5 --warmup 2
fi
if has cpu; then  # the CPU side on this machine's idle cores (2 threads, as on the 2-core dev VM)
  tiny="--device cpu --layers 4 --hidden 256 --intermediate 1024 --heads 4 --kv-heads 2 --head-dim 64 --vocab 8192"
  tiny="$tiny --seq 256 --batch 4 --steps 7 --warmup 1 --dtype f32 --threads 2"
  for rep in 1 2; do
    # shellcheck disable=SC2086
    step 300 "cpu-dense-$rep" env ARENA_ARGS=--no-quantize PEER_ARGS="--quant none" bench/gpu_vs_peer.sh $tiny
    # shellcheck disable=SC2086
    step 300 "cpu-nf4-$rep" env PEER_ARGS="--quant nf4" bench/gpu_vs_peer.sh $tiny
  done
fi
echo "=== summary" | tee -a "$log"
grep -h -E "^(  step median|  peak memory|  model FLOPs|    dequant|arena train|peer train|RATIO|cuda |\[  (PASSED|FAILED)|torch )" "$log" | tee -a "$OUT/summary.txt"
