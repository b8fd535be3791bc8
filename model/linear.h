// Bias-free linear projection y = x·Wᵀ with W of shape [out, in], as every Gemma-2 projection.
// The 4-bit frozen base and LoRA adapters wrap this contract: forward(x[..., in]) -> [..., out].
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/pimpl.h>

namespace arena {

class LinearImpl : public torch::nn::Module {
 public:
  // Weight drawn from N(0, init_std²) like transformers' _init_weights (meta tensors stay empty).
  LinearImpl(int64_t in_features, int64_t out_features, double init_std, const torch::TensorOptions& options);
  torch::Tensor forward(const torch::Tensor& x);

  torch::Tensor weight;  // [out, in]
};
TORCH_MODULE(Linear);

}  // namespace arena
