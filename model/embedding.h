// Gemma token embedding: rows of W [vocab, hidden] scaled by sqrt(hidden), with the scale first
// rounded to the compute dtype as the reference does (sqrt(2304) = 48 is exact; sqrt(3072)
// becomes 55.5 in bf16).
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/pimpl.h>

namespace arena {

class ScaledEmbeddingImpl : public torch::nn::Module {
 public:
  // Rows ~ N(0, 0.02²) with the pad row zeroed, as transformers initializes them.
  ScaledEmbeddingImpl(int64_t vocab, int64_t hidden, int64_t pad_id, const torch::TensorOptions& options);
  torch::Tensor forward(const torch::Tensor& input_ids);  // [B, S] int64 -> [B, S, hidden]

  torch::Tensor weight;  // [vocab, hidden]

 private:
  double scale_;
};
TORCH_MODULE(ScaledEmbedding);

}  // namespace arena
