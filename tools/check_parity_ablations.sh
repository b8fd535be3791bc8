#!/usr/bin/env bash
# Proves the Gemma parity test can fail: removes one model feature at a time, rebuilds, and expects
# the fp32 parity test to FAIL on every fixture that has the feature (and reports it otherwise).
#   Gemma-2: soft-cap, embedding scale, (1+w) norm, sliding window, last-token pooling;
#   Gemma-3: q/k norms, the sliding layers' own RoPE base, linear RoPE scaling of full layers,
#            query_pre_attn_scalar (!= head_dim in g3_4l).
# Restores each file with git afterwards (refuses to run on uncommitted changes to them).
#   tools/check_parity_ablations.sh [build-dir]
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD="${1:-build}"
files=(model/nn/softcap_attention.cpp model/nn/embedding.cpp model/nn/rms_norm.cpp model/gemma/classifier.cpp
       model/gemma/attention.cpp)
if ! git diff --quiet -- "${files[@]}"; then
  echo "refusing: uncommitted changes in ${files[*]} (this script restores them with git checkout)" >&2
  exit 2
fi
status=0
ablate() {  # file old new label fixture...
  local file=$1 old=$2 new=$3 label=$4
  shift 4
  python3 - "$file" "$old" "$new" <<'PY'
import sys
path, old, new = sys.argv[1:]
text = open(path).read()
assert old in text, f"{path}: pattern not found: {old}"
open(path, "w").write(text.replace(old, new))
PY
  cmake --build "$BUILD" -j2 --target test_gemma_parity >/dev/null
  for fixture in "$@"; do
    if "$BUILD"/tests/test_gemma_parity --gtest_filter="*Float32*/$fixture" >/dev/null 2>&1; then
      echo "NOT CAUGHT: $label ($fixture)"; status=1
    else
      echo "caught:     $label ($fixture)"
    fi
  done
  git checkout -q -- "$file"
}
trap 'git checkout -q -- "${files[@]}"' EXIT
all=(gqa2l gqa4l g3_4l g3_scaled)
ablate model/nn/softcap_attention.cpp "if (cap > 0) scores" "if (false) scores" "attention soft-cap removed" gqa2l gqa4l
ablate model/nn/embedding.cpp "return rows * scale;" "return rows;" "embedding scale removed" "${all[@]}"
ablate model/nn/rms_norm.cpp "y * (1.0 + weight.to(torch::kFloat32))" "y * weight.to(torch::kFloat32)" \
  "RMSNorm uses w instead of (1 + w)" "${all[@]}"
ablate model/gemma/classifier.cpp "const bool window_masks = " "const bool window_masks = false && " \
  "sliding window removed" "${all[@]}"
ablate model/gemma/classifier.cpp "const auto last = last_token_index(input_ids, config().pad_token_id);" \
  "const auto last = torch::full({input_ids.size(0)}, input_ids.size(1) - 1, torch::kInt64);" \
  "pooling at the last position" "${all[@]}"
ablate model/gemma/attention.cpp "return norm ? norm(" "return false ? norm(" "q/k norms removed" g3_4l g3_scaled
ablate model/gemma/classifier.cpp "const bool one_table = " "const bool one_table = true || " \
  "sliding layers use the full layers' RoPE" g3_4l g3_scaled
ablate model/gemma/classifier.cpp "dtype, c.rope_scaling_factor)" "dtype, 1.0)" "linear RoPE scaling removed" \
  g3_scaled
ablate model/gemma/attention.cpp "scaling_(1.0 / std::sqrt(c.query_pre_attn_scalar))" \
  "scaling_(1.0 / std::sqrt(static_cast<double>(c.head_dim)))" "head_dim instead of query_pre_attn_scalar" g3_4l
cmake --build "$BUILD" -j2 --target test_gemma_parity >/dev/null
exit $status
