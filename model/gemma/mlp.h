// Gemma-2 GeGLU feed-forward: down(gelu_tanh(gate(x)) * up(x)).
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/pimpl.h>

#include "model/gemma/config.h"
#include "model/lora/linear.h"

namespace arena {

class MlpImpl : public torch::nn::Module {
 public:
  MlpImpl(const GemmaConfig& config, const torch::TensorOptions& options);
  torch::Tensor forward(const torch::Tensor& x);  // [..., hidden] -> [..., hidden]

  Linear gate_proj{nullptr}, up_proj{nullptr}, down_proj{nullptr};
};
TORCH_MODULE(Mlp);

}  // namespace arena
