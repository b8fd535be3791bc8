// Gemma RMSNorm: y = x̂ · (1 + w), x̂ = x / sqrt(mean(x²) + eps), computed in fp32 and cast back
// to the input dtype (the multiply by (1 + w) happens before the cast, unlike Llama).
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/pimpl.h>

namespace arena {

class RMSNormImpl : public torch::nn::Module {
 public:
  RMSNormImpl(int64_t dim, double eps, const torch::TensorOptions& options);  // w starts at 0
  torch::Tensor forward(const torch::Tensor& x);

  torch::Tensor weight;  // [dim]
  double eps;
};
TORCH_MODULE(RMSNorm);

}  // namespace arena
