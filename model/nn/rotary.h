// Rotary position embedding, rotate-half layout (the first and second halves of each head
// vector form the pairs), as in transformers' Gemma-2 and Gemma-3.
#pragma once

#include <torch/types.h>

#include <utility>

namespace arena {

// cos/sin tables [B, S, head_dim] for integer positions [B, S] (B may be 1 and broadcast).
// Angles are computed in fp32, then cast to `dtype`, the activation dtype. linear_factor > 1 is
// linear RoPE scaling: the inverse frequencies are divided by it (positions stretched).
std::pair<torch::Tensor, torch::Tensor> rotary_tables(const torch::Tensor& position_ids, int64_t head_dim,
                                                      double theta, torch::ScalarType dtype,
                                                      double linear_factor = 1.0);

// x [B, H, S, D] rotated by the tables (broadcast over heads).
torch::Tensor apply_rotary(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin);

}  // namespace arena
