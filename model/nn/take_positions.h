// One position per batch row out of a sequence tensor: what the classifier's last layer reads
// when it computes only the pooled token (model/gemma/classifier.h).
#pragma once

#include <torch/types.h>

namespace arena {

// t [B|1, ..., S, ...] with the sequence at `dim`; positions [B] int64. Returns t with that
// dimension cut to 1, holding t[b, ..., positions[b], ...] for each row b (a size-1 batch is
// broadcast to B first). Differentiable in t.
torch::Tensor take_positions(const torch::Tensor& t, const torch::Tensor& positions, int64_t dim);

}  // namespace arena
