#!/usr/bin/env bash
# Packs what a real-model run on the lent GPU machine needs (the `run` device tool carries at most
# 64 MiB per call, the working tree included):
#   .devtrain/.devtrain.tar.xz  the arena binary from $ARENA_BUILD_DIR (CUDA on), its non-torch shared
#                               libraries, the real data and the Gemma-3 tokenizer (~28 MB)
#   .gg/p0 … p4                 the Gemma-3-270M GGUF in 60 MB parts (p4: the last 13 MB)
#   .whl/                       bitsandbytes (CUDA 13.0 and CPU libraries only) and gguf wheels for
#                               the peer, Python 3.12 manylinux (the device has transformers and peft)
# Then, with the machine warm, one call per part: run(carry=[".gg/pK"], command="mkdir -p /tmp/gg &&
# cp .gg/pK /tmp/gg/") for K = 0..3, and last run(carry=[".devtrain", ".gg/p4", ".whl"],
# command="tools/device_quality_vs_peer.sh PHASES").
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD="${ARENA_BUILD_DIR:-build}"
SHARED="${ARENA_SHARED_DIR:-../shared}"
GGUF="${ARENA_MODELS_DIR:-$HOME/.cache/arena/models}/gemma-3-270m-q4_k_m.gguf"
for p in /.devtrain/ /.gg/ /.whl/; do grep -qxF "$p" .git/info/exclude || echo "$p" >> .git/info/exclude; done

B=.devtrain
rm -rf "$B" && mkdir -p "$B/lib" "$B/shared/data" "$B/shared/gemma/gemma3"
cp "$BUILD/launch/arena" "$B/"
ldd "$BUILD/launch/arena" | awk '$3 ~ /^\// {print $3}' \
  | grep -v -E '/torch/lib/|/nvidia/|/(libc|libm|libstdc\+\+|libgcc_s|libpthread|libdl|librt|libutil)\.so|ld-linux' \
  | xargs -I{} cp -L {} "$B/lib/"
cp "$SHARED/data/autoj-pairwise.jsonl" "$SHARED/data/hh-rlhf-helpful-base-test.jsonl.gz" \
   "$SHARED/data/lmsys-arena-train-head1000.csv" "$B/shared/data/"
cp "$SHARED/gemma/gemma3/tokenizer.model" "$B/shared/gemma/gemma3/"
(cd "$B" && tar cJf ../devtrain.tar.xz . && rm -rf ./*) && mv devtrain.tar.xz "$B/.devtrain.tar.xz"

rm -rf .gg && mkdir .gg && split -b 60000000 -d -a 1 "$GGUF" .gg/p

rm -rf .whl && mkdir .whl
python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
  --platform manylinux_2_24_x86_64 --platform manylinux_2_17_x86_64 -d .whl bitsandbytes==0.50.2 gguf==0.19.0
# bitsandbytes ships one library per CUDA, ROCm and XPU version (129 MB unpacked): keep CUDA 13.0 and the CPU one
w=$(ls .whl/bitsandbytes-*.whl)
zip -q -d "$w" $(unzip -Z1 "$w" | grep -E 'libbitsandbytes_.*\.so' | grep -v -E '_(cuda130|cpu)\.so')
du -ch .devtrain .gg/p4 .whl | tail -1
ls -la .gg
