#include "model/rms_norm.h"

#include <torch/torch.h>

namespace arena {

RMSNormImpl::RMSNormImpl(int64_t dim, double eps_, const torch::TensorOptions& options) : eps(eps_) {
  weight = register_parameter("weight", torch::zeros({dim}, options));
}

torch::Tensor RMSNormImpl::forward(const torch::Tensor& x) {
  const auto xf = x.to(torch::kFloat32);
  auto y = xf * torch::rsqrt(xf.pow(2).mean(-1, /*keepdim=*/true) + eps);
  y = y * (1.0 + weight.to(torch::kFloat32));
  return y.to(x.scalar_type());
}

}  // namespace arena
