#!/usr/bin/env bash
# Downloads NVIDIA's compute-sanitizer for CUDA 13.0 (PyPI's nvidia-cuda-sanitizer-api wheel,
# 14 MB; the dev VM's and the GPU machine's toolkits lack it) into .whl-sanitizer/ (git-ignored),
# to carry with the device tool for the `flash` phase of tools/device_gpu_suite.sh:
#   tools/fetch_sanitizer.sh      # once, here (needs PyPI)
#   run(carry=[".devbundle", ".whl-sanitizer"], command="tools/device_gpu_suite.sh info flash")
# The GPU machine unpacks it once into .devsite/sanitizer (python3 -m zipfile).
set -euo pipefail
cd "$(dirname "$0")/.."
D="${SANITIZER_WHEEL_DIR:-.whl-sanitizer}"
mkdir -p "$D"   # .gitignore lists /.whl-sanitizer/
"${PYTHON:-python3}" -m pip download -q --no-deps --only-binary=:all: -d "$D" "nvidia-cuda-sanitizer-api==13.0.*"
ls -l "$D"
