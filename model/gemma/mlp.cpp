#include "model/gemma/mlp.h"

#include <torch/torch.h>

#include "model/lora/geglu_lora_down.h"
#include "model/nn/fused_ops.h"

namespace arena {

MlpImpl::MlpImpl(const GemmaConfig& c, const torch::TensorOptions& options) {
  const double std = 0.02;  // transformers' initializer_range
  gate_proj = register_module("gate_proj", Linear(c.hidden_size, c.intermediate_size, std, options));
  up_proj = register_module("up_proj", Linear(c.hidden_size, c.intermediate_size, std, options));
  down_proj = register_module("down_proj", Linear(c.intermediate_size, c.hidden_size, std, options));
}

torch::Tensor MlpImpl::forward(const torch::Tensor& x) {
  const auto gate = gate_proj(x);
  const auto up = up_proj(x);
  if (down_proj->has_lora() && torch::GradMode::is_enabled() && geglu_lora_down_fusion()) {
    // GeGLU and down_proj's adapter input in one node that does not keep the activation.
    const auto [act, a] =
        geglu_lora_down(gate, up, down_proj->lora_A_as(gate), down_proj->lora_dropout(), down_proj->is_training());
    return down_proj->add_lora_up(down_proj->base_forward(act), a);
  }
  if (use_fused_elementwise(x)) return down_proj(geglu_fused(gate, up));  // one fused pass
  return down_proj(torch::gelu(gate, "tanh") * up);
}

}  // namespace arena
