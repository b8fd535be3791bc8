// Compute-dtype copies of fp32 trainable tensors: cast once when they change, not at every use.
//
// The trainer keeps the adapters and the head in fp32 (PEFT's autocast_adapter_dtype) while the
// model computes in bf16, so each use casts: per step one cast per tensor in the forward, one more in
// the recomputation, and the cast's backward widens each gradient before it is added into the fp32
// gradient bucket (dist/grad_bucket.h). On the 2B recipe's 281 tensors that is about 1,100 small
// kernels per step, launched one by one.
//
// Here the fp32 tensors already sit in one flat buffer (the bucket's). refresh_if_stale() casts that
// buffer into one flat compute-dtype buffer whose slices are the copies: leaves that require grad,
// read by the projections instead of the fp32 tensors (model/lora/linear.h). fold_grads() adds the
// copies' gradients into the flat fp32 gradient buffer in one pass and clears them.
//
// The numbers are the same bits as casting per use: the same rounding of the same fp32 values, and
// each gradient widened to fp32 and added once into the bucket, as the cast's backward and autograd's
// accumulation did. (A tensor used twice in one backward would have its two gradients summed in the
// compute dtype first; every trainable tensor of the recipe is used once.)
#pragma once

#include <torch/nn/module.h>
#include <torch/types.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace arena {

class LinearImpl;

class ComputeCopies {
 public:
  using Named = std::vector<std::pair<std::string, torch::Tensor>>;

  // masters: fp32 tensors laid out in order in `flat` (a gradient bucket's named() and params()),
  // each the weight, lora_A or lora_B of a Linear inside `model`. Installs a `dtype` copy of each
  // into its Linear. dtype fp32 installs nothing: every call below is then a no-op.
  ComputeCopies(torch::nn::Module& model, const Named& masters, torch::Tensor flat, torch::ScalarType dtype);
  ~ComputeCopies();  // uninstalls the copies: the Linears cast per use again
  ComputeCopies(const ComputeCopies&) = delete;
  ComputeCopies& operator=(const ComputeCopies&) = delete;

  bool active() const { return !copies_.empty(); }
  // Recasts when a master changed since the last cast: in-place updates bump torch's version
  // counters, of the flat buffer (the optimizer, a checkpoint load) or of a master itself. A copy
  // that a pending backward still needs is then caught by autograd's own version check.
  void refresh_if_stale();
  // Forces the next refresh_if_stale() to cast (e.g. before capturing a CUDA graph, which must hold
  // the cast, or after writing into `flat` behind torch's back, as a communicator does).
  void mark_stale() { stamp_ = -1; }
  // flat_grads (fp32, the bucket's grads()) += the copies' gradients; then clears them, so the next
  // backward starts afresh. Call after each backward: gradients of several backwards are summed in
  // fp32, as before.
  void fold_grads(torch::Tensor& flat_grads);

 private:
  int64_t versions() const;
  void install(const std::vector<std::shared_ptr<LinearImpl>>& linears);  // a copy of each master
  void uninstall();

  Named masters_;
  std::vector<std::shared_ptr<LinearImpl>> owners_;  // masters_[i] belongs to owners_[i]
  torch::Tensor flat_, copy_flat_;
  std::vector<torch::Tensor> copies_;  // leaves requiring grad, slices of copy_flat_
  int64_t stamp_ = -1;
};

}  // namespace arena
