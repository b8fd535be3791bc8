#include "model/embedding.h"

#include <torch/torch.h>

#include <cmath>

namespace arena {

ScaledEmbeddingImpl::ScaledEmbeddingImpl(int64_t vocab, int64_t hidden, int64_t pad_id,
                                         const torch::TensorOptions& options)
    : scale_(std::sqrt(static_cast<double>(hidden))) {
  weight = register_parameter("weight", torch::empty({vocab, hidden}, options));
  if (!weight.is_meta()) {
    torch::NoGradGuard no_grad;
    weight.normal_(0.0, 0.02);
    if (pad_id >= 0 && pad_id < vocab) weight[pad_id].zero_();
  }
}

torch::Tensor ScaledEmbeddingImpl::forward(const torch::Tensor& input_ids) {
  const auto scale = torch::tensor(scale_, weight.options().requires_grad(false));
  return torch::embedding(weight, input_ids) * scale;
}

}  // namespace arena
