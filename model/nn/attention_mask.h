// The additive attention bias shared by all layers of one kind (full or sliding).
#pragma once

#include <torch/types.h>

namespace arena {

// attention_mask [B, S] (1 = real token, 0 = pad) -> bias [B, 1, S, S] in `dtype`:
// 0 where query q may see key k, the dtype's lowest finite value elsewhere (as transformers'
// eager path does, so fully masked pad rows stay finite). q sees k iff k <= q, key k is not pad,
// and, when window > 0, k > q - window (the query plus window-1 keys before it).
// The rows are laid out at a stride of padded_keys(S) elements (a [B, 1, S, S] view of a padded
// buffer), as the fused attention kernels read them.
torch::Tensor attention_bias(const torch::Tensor& attention_mask, int64_t window, torch::ScalarType dtype);

}  // namespace arena
