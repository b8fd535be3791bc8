#!/usr/bin/env bash
# Builds the GPU binaries here and bundles them for the lent GPU machine (the `run` device tool):
# binaries, the non-system shared libraries they need that are not torch's (torch, its CUDA wheels
# and the C/C++ runtime are on the GPU machine already), and a trimmed bitsandbytes for the peer.
# Output: .devbundle/ (ignored through .git/info/exclude), to carry with `run`:
#   run(carry=[".devbundle"], command="tools/device_gpu_suite.sh")
# Needs: a CUDA build dir (default build-gpu, same torch 2.11.0+cu130 and nvcc 13.0 as the GPU
# machine), and the bitsandbytes wheel in .whl/ (see docs/benchmarks.md for the pip download line).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD="${ARENA_BUILD_DIR:-build-gpu}"
JOBS="${ARENA_JOBS:-2}"
B=.devbundle
targets=(bench_train_step bench_nf4_dequant bench_attention test_nf4_cuda test_fused_cuda)
bins=(bench/bench_train_step bench/bench_nf4_dequant bench/bench_attention tests/test_nf4_cuda tests/test_fused_cuda)

exclude=$(git rev-parse --git-path info/exclude)
mkdir -p "$(dirname "$exclude")"
grep -qx '/.devbundle/' "$exclude" 2>/dev/null || echo '/.devbundle/' >> "$exclude"
[ -d "$BUILD" ] || cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release
ninja -C "$BUILD" -j "$JOBS" "${targets[@]}"

rm -rf "$B"
mkdir -p "$B/bin" "$B/lib" "$B/py"
for b in "${bins[@]}"; do
  cp "$BUILD/$b" "$B/bin/"
  strip --strip-debug "$B/bin/$(basename "$b")"
  # Shared libraries outside torch's wheels and the C/C++ runtime (libfmt, libcudart, ...).
  ldd "$BUILD/$b" | awk '$3 ~ /^\// {print $3}' |
    grep -v -E '/torch/lib/|/nvidia/|/(libc|libm|libstdc\+\+|libgcc_s|libpthread|libdl|librt|libutil)\.so|ld-linux' |
    while read -r lib; do cp -L "$lib" "$B/lib/"; done
done

# bitsandbytes for the peer: only the CUDA 13.0 and CPU libraries (the wheel holds every CUDA
# and ROCm build, 124 MB unpacked; the device tool carries 64 MiB in all).
whl=$(ls .whl/bitsandbytes-*.whl 2>/dev/null | head -1 || true)
if [ -n "$whl" ]; then
  unzip -q "$whl" -d "$B/py" -x 'bitsandbytes/libbitsandbytes_rocm*' 'bitsandbytes/libbitsandbytes_xpu*' \
    'bitsandbytes/libbitsandbytes_cuda1[12]*' 'bitsandbytes/libbitsandbytes_cuda132*'
else
  echo "no .whl/bitsandbytes-*.whl: the peer will run without bitsandbytes" >&2
fi
du -sh "$B" "$B"/*
