#include "model/nn/take_positions.h"

#include <torch/torch.h>

#include <vector>

#include "common/error.h"

namespace arena {

torch::Tensor take_positions(const torch::Tensor& t, const torch::Tensor& positions, int64_t dim) {
  check(positions.dim() == 1 && positions.scalar_type() == torch::kInt64,
        "take_positions: positions must be [B] int64, got [{}] {}", fmt::join(positions.sizes(), ", "),
        c10::toString(positions.scalar_type()));
  check(dim > 0 && dim < t.dim(), "take_positions: dim {} out of range for [{}]", dim, fmt::join(t.sizes(), ", "));
  const int64_t b = positions.size(0);
  check(t.size(0) == b || t.size(0) == 1, "take_positions: batch {} against {} positions", t.size(0), b);
  std::vector<int64_t> shape = t.sizes().vec();
  shape[0] = b;
  const auto rows = t.expand(shape);
  std::vector<int64_t> index_view(static_cast<size_t>(t.dim()), 1);
  index_view[0] = b;
  shape[static_cast<size_t>(dim)] = 1;
  const auto index = positions.to(t.device()).view(index_view).expand(shape);
  return torch::gather(rows, dim, index);
}

}  // namespace arena
