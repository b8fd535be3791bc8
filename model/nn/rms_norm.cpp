#include "model/nn/rms_norm.h"

#include <torch/torch.h>

#include "model/nn/fused_ops.h"

namespace arena {

RMSNormImpl::RMSNormImpl(int64_t dim, double eps_, const torch::TensorOptions& options) : eps(eps_) {
  weight = register_parameter("weight", torch::zeros({dim}, options));
}

torch::Tensor RMSNormImpl::forward(const torch::Tensor& x) {
  // One fused pass per direction (CUDA, or the CPU in fp32/bf16) instead of the fp32 chain below
  // (model/nn/fused_ops.h).
  if (use_fused_elementwise(x) && weight.scalar_type() == x.scalar_type()) return rms_norm_fused(x, weight, eps);
  const auto xf = x.to(torch::kFloat32);
  auto y = xf * torch::rsqrt(xf.pow(2).mean(-1, /*keepdim=*/true) + eps);
  y = y * (1.0 + weight.to(torch::kFloat32));
  return y.to(x.scalar_type());
}

}  // namespace arena
