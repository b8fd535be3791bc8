#include "model/linear.h"

#include <torch/torch.h>

namespace arena {

LinearImpl::LinearImpl(int64_t in_features, int64_t out_features, double init_std,
                       const torch::TensorOptions& options) {
  weight = register_parameter("weight", torch::empty({out_features, in_features}, options));
  if (!weight.is_meta()) {
    torch::NoGradGuard no_grad;
    weight.normal_(0.0, init_std);
  }
}

torch::Tensor LinearImpl::forward(const torch::Tensor& x) { return torch::linear(x, weight); }

}  // namespace arena
