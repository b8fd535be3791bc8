#!/usr/bin/env bash
# Builds a FlashAttention-2 wheel for the GPU machine's Python stack, for the transformers + FA2
# peer of issue 20 (bench/peer_train_step.py --attn flash_attention_2) and for Unsloth, which uses
# FlashAttention-2's soft-capping when it is installed. PyPI has no flash-attn wheel (only the
# source), and the GPU machine cannot download or build one within its 15 minutes, so this builds it
# here, for that machine: CPython 3.12, torch 2.11.0+cu130, sm_90 (H100/H200), into .whl-flash/
# (git-ignored):
#   tools/build_flash_attn_wheel.sh        # once, here: about 6 minutes on the 2-core VM, a 4.7 MB wheel
#   run(carry=[".devbundle", ".whl-flash"], command="tools/device_gpu_suite.sh fa2")
#
# To fit the carry and the build time, the wheel holds what Gemma-2 at head dim 256 uses: bf16, head
# dim 256, causal or not, soft-capping, sliding windows; dropout, ALiBi and head dims other than 256
# are compiled out (FlashAttention's own FLASHATTENTION_DISABLE_* switches; a call that needs them
# fails with its message). The version gets a local tag saying so (+hd256.bf16.sm90).
#
# Needs: CUDA 13.0's nvcc (the GPU machine's), PyPI, and CPython 3.12 (PY312; pyenv's by default).
# torch 2.11.0 is installed into that Python with --no-deps when missing; at build time it finds its
# CUDA libraries through the main python3's torch wheels (the same versions).
set -euo pipefail
cd "$(dirname "$0")/.."
FA_VERSION="${FA_VERSION:-2.8.3.post2}"
if [ -z "${PY312:-}" ]; then  # a python3.12 that runs (pyenv's shim exists even where it cannot run)
  PY312=/root/.pyenv/versions/3.12.1/bin/python3
  python3.12 -c '' 2>/dev/null && PY312=$(python3.12 -c 'import sys; print(sys.executable)')
fi
OUT_DIR="${FLASH_WHEEL_DIR:-.whl-flash}"
JOBS="${MAX_JOBS:-2}"
[ -x "$PY312" ] || { echo "build_flash_attn_wheel.sh: no CPython 3.12 at $PY312 (set PY312)" >&2; exit 1; }
command -v nvcc >/dev/null || { echo "build_flash_attn_wheel.sh: nvcc not on PATH" >&2; exit 1; }

# The CUDA runtime libraries torch loads, from the main python3's nvidia wheels.
nvidia_root=$(python3 -c 'import nvidia, os; print(os.path.dirname(nvidia.__path__[0]) + "/nvidia")')
LD_LIBRARY_PATH="$(find "$nvidia_root" -maxdepth 3 -name lib -type d | paste -sd:)${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
export LD_LIBRARY_PATH
if ! "$PY312" -c 'import torch, sys; sys.exit(torch.__version__ != "2.11.0+cu130")' 2>/dev/null; then
  "$PY312" -m pip install -q --no-deps "torch==2.11.0"
  "$PY312" -m pip install -q packaging ninja wheel "setuptools<82" typing_extensions filelock sympy networkx \
    jinja2 fsspec numpy einops
fi
"$PY312" -c 'import torch; print("build against torch", torch.__version__, "CUDA", torch.version.cuda)'

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
FLASH_ATTENTION_SKIP_CUDA_BUILD=TRUE "$PY312" -m pip download -q --no-deps --no-build-isolation \
  --no-binary :all: -d "$work" "flash-attn==$FA_VERSION"
tar xzf "$work"/flash_attn-*.tar.gz -C "$work"
src=$(ls -d "$work"/flash_attn-*/)

# Trim: bf16 head dim 256 sources only, the unused template branches compiled out, a local version tag.
"$PY312" - "$src" <<'PY'
import pathlib, re, sys
src = pathlib.Path(sys.argv[1])
setup = src / "setup.py"
text = setup.read_text()
lines = [l for l in text.splitlines(keepends=True)
         if not re.search(r'"csrc/flash_attn/src/flash_\w+\.cu"', l) or "hdim256_bf16" in l]
text = "".join(lines)
flags = '"-DFLASHATTENTION_DISABLE_DROPOUT", "-DFLASHATTENTION_DISABLE_ALIBI", "-DFLASHATTENTION_DISABLE_UNEVEN_K"'
assert text.count('nvcc_flags = [') == 1 and text.count('compiler_c17_flag=["-O3", "-std=c++17"]') == 1
text = text.replace('nvcc_flags = [', 'nvcc_flags = [' + flags + ',', 1)
text = text.replace('compiler_c17_flag=["-O3", "-std=c++17"]', 'compiler_c17_flag=["-O3", "-std=c++17", ' + flags + ']', 1)
setup.write_text(text)
kept = re.findall(r'"csrc/flash_attn/src/(flash_\w+\.cu)"', text)
assert len(kept) == 6, kept  # fwd, bwd, split fwd; causal or not
switch = src / "csrc/flash_attn/src/static_switch.h"
s = switch.read_text()
head = re.search(r"#define HEADDIM_SWITCH\(HEADDIM, \.\.\.\).*?\}\(\)\n", s, re.S)
fp16 = re.search(r"#define FP16_SWITCH\(COND, \.\.\.\).*?\}\(\)\n", s, re.S)
assert head and fp16
s = s.replace(head.group(0), "#define HEADDIM_SWITCH(HEADDIM, ...) [&] { \\\n"
              "  TORCH_CHECK(HEADDIM == 256, \"this flash-attn build has head dim 256 only\"); \\\n"
              "  constexpr static int kHeadDim = 256; return __VA_ARGS__(); }()\n")
s = s.replace(fp16.group(0), "#define FP16_SWITCH(COND, ...) [&] { \\\n"
              "  TORCH_CHECK(!(COND), \"this flash-attn build has bf16 only\"); \\\n"
              "  using elem_type = cutlass::bfloat16_t; return __VA_ARGS__(); }()\n")
switch.write_text(s)
init = src / "flash_attn/__init__.py"
t = init.read_text()
t2 = re.sub(r'__version__ = "([^"]+)"', r'__version__ = "\1+hd256.bf16.sm90"', t, count=1)
assert t2 != t
init.write_text(t2)
print("kept:", ", ".join(kept))
PY

echo "building flash-attn $FA_VERSION for sm_90 with $JOBS jobs (long: the backward kernels of head dim 256)"
(cd "$src" && FLASH_ATTN_CUDA_ARCHS=90 FLASH_ATTENTION_FORCE_BUILD=TRUE MAX_JOBS="$JOBS" NVCC_THREADS=1 \
  "$PY312" setup.py -q bdist_wheel)
mkdir -p "$OUT_DIR"   # .gitignore lists /.whl-flash/
cp "$src"/dist/flash_attn-*.whl "$OUT_DIR/"
ls -la "$OUT_DIR"
# The extension loads against this torch (its symbols and CUDA runtime resolve); no GPU is needed for that.
(cd "$work" && "$PY312" -m pip install -q --no-deps --target "$work/site" "$OLDPWD/$OUT_DIR"/flash_attn-*.whl &&
  PYTHONPATH="$work/site" "$PY312" -c 'import flash_attn, flash_attn_2_cuda; print("import ok:", flash_attn.__version__)')
