#include "model/mlp.h"

#include <torch/torch.h>

#include "model/fused_ops.h"

namespace arena {

MlpImpl::MlpImpl(const Gemma2Config& c, const torch::TensorOptions& options) {
  const double std = 0.02;  // transformers' initializer_range
  gate_proj = register_module("gate_proj", Linear(c.hidden_size, c.intermediate_size, std, options));
  up_proj = register_module("up_proj", Linear(c.hidden_size, c.intermediate_size, std, options));
  down_proj = register_module("down_proj", Linear(c.intermediate_size, c.hidden_size, std, options));
}

torch::Tensor MlpImpl::forward(const torch::Tensor& x) {
  if (use_fused_elementwise(x)) return down_proj(geglu_fused(gate_proj(x), up_proj(x)));  // CUDA: one kernel
  return down_proj(torch::gelu(gate_proj(x), "tanh") * up_proj(x));
}

}  // namespace arena
