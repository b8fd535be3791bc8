// One flat bucket for the trainable tensors (LoRA adapters + head): their values are views into one
// flat parameter buffer and their .grad views into one flat gradient buffer, so a step reduces the
// gradients with a single all-reduce and the optimizer updates one tensor. Frozen weights are never
// in the bucket, so the 4-bit base is never communicated.
#pragma once

#include <torch/types.h>

#include <string>
#include <utility>
#include <vector>

namespace arena {

class GradBucket {
 public:
  using Named = std::vector<std::pair<std::string, torch::Tensor>>;

  // All tensors must be leaves requiring grad, of one floating dtype and one device.
  explicit GradBucket(Named params);

  const Named& named() const { return named_; }
  torch::Tensor& params() { return params_; }  // flat [numel]
  torch::Tensor& grads() { return grads_; }    // flat [numel]
  int64_t numel() const { return params_.numel(); }
  int64_t bytes() const { return static_cast<int64_t>(grads_.nbytes()); }  // what one all-reduce moves

  void zero_grads() { grads_.zero_(); }
  bool grads_finite() const;
  // True when every tensor's .grad still aliases the bucket (autograd accumulated in place).
  bool grads_in_bucket() const;

 private:
  Named named_;
  torch::Tensor params_, grads_;
};

}  // namespace arena
