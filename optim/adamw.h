// AdamW on one flat parameter tensor (the trainable bucket), with the exact update of
// torch.optim.AdamW (decoupled weight decay, bias-corrected moments, eps outside the square root):
//   p  <- p · (1 − lr·wd)
//   m  <- β1·m + (1 − β1)·g          v <- β2·v + (1 − β2)·g²
//   p  <- p − (lr / (1 − β1^t)) · m / (sqrt(v) / sqrt(1 − β2^t) + eps)
// Moments are kept in fp32 whatever the parameters' dtype.
#pragma once

#include <torch/types.h>

#include <cstdint>
#include <vector>

namespace arena {

struct AdamWOptions {
  double beta1 = 0.9;
  double beta2 = 0.999;
  double eps = 1e-8;
  double weight_decay = 0.0;
};

class AdamW {
 public:
  AdamW(const torch::Tensor& params, const AdamWOptions& options);

  // One update of `params` (the tensor given at construction) with `grads` at learning rate lr.
  void step(torch::Tensor& params, const torch::Tensor& grads, double lr);
  // Elements [begin, end) of the bucket step at their own learning rate (torch.optim.AdamW's
  // parameter groups); the segments must tile the bucket in order.
  struct Segment {
    int64_t begin = 0, end = 0;
    double lr = 0;
  };
  void step(torch::Tensor& params, const torch::Tensor& grads, const std::vector<Segment>& segments);

  int64_t steps() const { return step_; }
  torch::Tensor& exp_avg() { return m_; }
  torch::Tensor& exp_avg_sq() { return v_; }
  // Restores the state of a checkpoint (moments must match the parameters' size).
  void load_state(int64_t steps, const torch::Tensor& exp_avg, const torch::Tensor& exp_avg_sq);

 private:
  AdamWOptions o_;
  torch::Tensor m_, v_;
  int64_t step_ = 0;
};

// Scales `grads` so their global 2-norm is at most max_norm, as torch.nn.utils.clip_grad_norm_
// (coefficient max_norm / (norm + 1e-6), clamped to 1). Returns the norm before clipping.
// max_norm <= 0 only measures.
double clip_grad_norm(torch::Tensor& grads, double max_norm);

}  // namespace arena
