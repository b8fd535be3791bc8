#include "model/nn/rotary.h"

#include <torch/torch.h>

namespace arena {

std::pair<torch::Tensor, torch::Tensor> rotary_tables(const torch::Tensor& position_ids, int64_t head_dim,
                                                      double theta, torch::ScalarType dtype,
                                                      double linear_factor) {
  const auto f32 = torch::TensorOptions().dtype(torch::kFloat32).device(position_ids.device());
  const auto exponent = torch::arange(0, head_dim, 2, f32) / static_cast<double>(head_dim);
  auto inv_freq = 1.0 / torch::pow(theta, exponent);                                // [D/2]
  if (linear_factor != 1.0) inv_freq = inv_freq / linear_factor;
  const auto freqs = position_ids.unsqueeze(-1).to(torch::kFloat32) * inv_freq;    // [B, S, D/2]
  const auto angles = torch::cat({freqs, freqs}, -1);                               // [B, S, D]
  return {angles.cos().to(dtype), angles.sin().to(dtype)};
}

torch::Tensor apply_rotary(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin) {
  const int64_t half = x.size(-1) / 2;
  const auto x1 = x.narrow(-1, 0, half);
  const auto x2 = x.narrow(-1, half, half);
  const auto rotated = torch::cat({-x2, x1}, -1);
  return x * cos.unsqueeze(1) + rotated * sin.unsqueeze(1);
}

}  // namespace arena
