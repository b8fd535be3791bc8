#include "model/nn/take_positions.h"

#include <torch/torch.h>

#include <vector>

namespace arena {

torch::Tensor take_positions(const torch::Tensor& t, const torch::Tensor& positions, int64_t dim) {
  TORCH_CHECK(positions.dim() == 1 && positions.scalar_type() == torch::kInt64,
              "take_positions: positions must be [B] int64, got ", positions.sizes(), " ", positions.scalar_type());
  TORCH_CHECK(dim > 0 && dim < t.dim(), "take_positions: dim ", dim, " out of range for ", t.sizes());
  const int64_t b = positions.size(0);
  TORCH_CHECK(t.size(0) == b || t.size(0) == 1, "take_positions: batch ", t.size(0), " against ", b, " positions");
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
