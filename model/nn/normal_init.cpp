#include "model/nn/normal_init.h"

#include <torch/torch.h>

#include "common/error.h"

namespace arena {

void normal_init_(torch::Tensor& t, double std) {
  torch::NoGradGuard no_grad;
  const auto type = t.scalar_type();
  if (type == torch::kFloat32 || type == torch::kFloat64) {
    t.normal_(0.0, std);
    return;
  }
  check(t.is_contiguous(), "normal_init_: the tensor must be contiguous");
  // Chunks of a multiple of 16 elements: ATen's fp32 normal draws its uniforms in order and turns
  // them into normals 16 at a time, so chunked draws equal one draw of the whole (tested).
  constexpr int64_t kChunk = int64_t{1} << 20;
  auto flat = t.view({-1});
  const int64_t n = flat.numel();
  for (int64_t begin = 0; begin < n; begin += kChunk) {
    const int64_t len = std::min(kChunk, n - begin);
    flat.narrow(0, begin, len).copy_(torch::empty({len}, t.options().dtype(torch::kFloat32)).normal_(0.0, std));
  }
}

}  // namespace arena
