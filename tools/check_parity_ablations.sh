#!/usr/bin/env bash
# Proves the Gemma-2 parity test can fail: removes one model feature at a time (soft-cap, embedding
# scale, (1+w) norm, sliding window, last-token pooling), rebuilds, and expects the fp32 parity test
# to FAIL on both fixtures. Restores each file with git afterwards.
#   tools/check_parity_ablations.sh [build-dir]
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD="${1:-build}"
files=(model/gemma/attention.cpp model/nn/embedding.cpp model/nn/rms_norm.cpp model/gemma/gemma2.cpp)
if ! git diff --quiet -- "${files[@]}"; then
  echo "refusing: uncommitted changes in ${files[*]} (this script restores them with git checkout)" >&2
  exit 2
fi
status=0
ablate() {  # file old new label
  python3 - "$1" "$2" "$3" <<'PY'
import sys
path, old, new = sys.argv[1:]
text = open(path).read()
assert old in text, f"{path}: pattern not found: {old}"
open(path, "w").write(text.replace(old, new))
PY
  cmake --build "$BUILD" -j2 --target test_gemma2_parity >/dev/null
  if "$BUILD"/tests/test_gemma2_parity --gtest_filter='*Float32*' >/dev/null 2>&1; then
    echo "NOT CAUGHT: $4"; status=1
  else
    echo "caught:     $4"
  fi
  git checkout -q -- "$1"
}
trap 'git checkout -q -- "${files[@]}"' EXIT
ablate model/gemma/attention.cpp "if (softcap_ > 0) scores" "if (false) scores" "attention soft-cap removed"
ablate model/nn/embedding.cpp "torch::embedding(weight, input_ids) * scale" "torch::embedding(weight, input_ids)" "embedding scale removed"
ablate model/nn/rms_norm.cpp "y * (1.0 + weight.to(torch::kFloat32))" "y * weight.to(torch::kFloat32)" "RMSNorm uses w instead of (1 + w)"
ablate model/gemma/gemma2.cpp "config_.sliding_window < seq ?" "false ?" "sliding window removed"
ablate model/gemma/gemma2.cpp "const auto last = last_token_index(input_ids, config().pad_token_id);" \
  "const auto last = torch::full({input_ids.size(0)}, input_ids.size(1) - 1, torch::kInt64);" "pooling at the last position"
cmake --build "$BUILD" -j2 --target test_gemma2_parity >/dev/null
exit $status
