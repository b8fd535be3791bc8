#include "model/nn/attention_mask.h"

#include <torch/torch.h>

#include "model/nn/attention_chunks.h"

namespace arena {

torch::Tensor attention_bias(const torch::Tensor& attention_mask, int64_t window, torch::ScalarType dtype) {
  const int64_t s = attention_mask.size(1);
  const auto idx = torch::arange(s, torch::TensorOptions().dtype(torch::kInt64).device(attention_mask.device()));
  const auto q = idx.unsqueeze(1);  // [S, 1]
  const auto k = idx.unsqueeze(0);  // [1, S]
  auto allowed = k <= q;
  if (window > 0) allowed = allowed & (k > q - window);
  const auto keys = attention_mask.to(torch::kBool).unsqueeze(1).unsqueeze(1);  // [B, 1, 1, S]
  allowed = allowed.unsqueeze(0).unsqueeze(0) & keys;                            // [B, 1, S, S]
  const auto opts = torch::TensorOptions().dtype(dtype).device(attention_mask.device());
  double lowest = std::numeric_limits<double>::lowest();
  switch (dtype) {
    case torch::kFloat32: lowest = std::numeric_limits<float>::lowest(); break;
    case torch::kBFloat16: lowest = static_cast<float>(std::numeric_limits<c10::BFloat16>::lowest()); break;
    case torch::kFloat16: lowest = static_cast<float>(std::numeric_limits<c10::Half>::lowest()); break;
    default: break;
  }
  // Rows at a stride of padded_keys(S): 16-byte aligned for the fused attention's row kernels.
  auto padded = torch::empty({attention_mask.size(0), 1, s, padded_keys(s)}, opts);
  padded.narrow(3, s, padded.size(3) - s).zero_();  // read by the kernels, never used
  auto bias = padded.narrow(3, 0, s);
  torch::where_out(bias, allowed, torch::zeros({}, opts), torch::full({}, lowest, opts));
  return bias;
}

}  // namespace arena
