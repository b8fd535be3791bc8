// Bias-free linear projection y = x·Wᵀ (W [out, in]), as every Gemma-2 projection, with the two
// QLoRA extensions:
//   - the base weight can be frozen in NF4 (bitsandbytes layout, model/quant/nf4.h); forward and the
//     input-gradient dequantize it on the fly, so no dense copy outlives a call;
//   - a LoRA adapter adds (B·A·dropout(x))·scaling, PEFT's formula, with scaling = alpha/r
//     (rsLoRA: alpha/sqrt(r)); A [r, in] ~ kaiming-uniform(a=√5), B [out, r] = 0.
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/pimpl.h>

#include <array>
#include <optional>

#include "model/quant/nf4.h"

namespace arena {

struct LoraOptions {
  int64_t rank = 16;      // r
  double alpha = 32;      // lora_alpha
  double dropout = 0.05;  // lora_dropout, on the adapter's input only, in training mode
  bool rslora = false;    // scaling alpha/sqrt(r) instead of alpha/r

  double scaling() const;
};

class LinearImpl : public torch::nn::Module {
 public:
  // Weight drawn from N(0, init_std²) like transformers' _init_weights (meta tensors stay empty).
  LinearImpl(int64_t in_features, int64_t out_features, double init_std, const torch::TensorOptions& options);

  torch::Tensor forward(const torch::Tensor& x);  // [..., in] -> [..., out]
  // forward() in two halves, for callers that compute the adapter's a = dropout(x)·Aᵀ themselves
  // (model/lora/geglu_lora_down.h): forward(x) = add_lora_up(base_forward(x), a).
  torch::Tensor base_forward(const torch::Tensor& x);                    // x·Wᵀ, NF4 or dense
  // y + scaling·a·Bᵀ. A contiguous y is updated in place and returned (model/lora/lora_up.h):
  // pass the base projection's fresh output and do not read y again.
  torch::Tensor add_lora_up(const torch::Tensor& y, const torch::Tensor& a);
  torch::Tensor lora_A_as(const torch::Tensor& x) const;                 // A in x's dtype, in the graph

  // A compute-dtype stand-in for `master` (this Linear's weight, lora_A or lora_B), read instead of
  // casting the master at each use while the input has the copy's dtype (model/lora/compute_copies.h).
  // An undefined copy removes it. Returns false when `master` is none of the three.
  bool set_compute_copy(const torch::Tensor& master, const torch::Tensor& copy);
  // The tensor autograd differentiates when `master` is used at `dtype`: its copy, or the master.
  torch::Tensor used_form(const torch::Tensor& master, torch::ScalarType dtype) const;

  // Replaces the dense weight by its NF4 form (frozen). The dense parameter is released.
  void quantize(bool double_quant);
  // Installs an NF4 weight read from a bitsandbytes checkpoint (shape must be [out, in]).
  void set_quantized(Nf4Weight weight);
  bool quantized() const { return nf4_.has_value(); }
  const Nf4Weight& nf4() const { return *nf4_; }

  // Adds a fresh adapter (B = 0, so the output is unchanged) in `dtype` on the base's device.
  void add_lora(const LoraOptions& options, torch::ScalarType dtype);
  bool has_lora() const { return lora_A.defined(); }
  double lora_scaling() const { return lora_scaling_; }
  void set_lora_dropout(double p) { lora_dropout_ = p; }
  double lora_dropout() const { return lora_dropout_; }

  // The base weight as a dense tensor (dequantized when NF4), e.g. for export or tests.
  torch::Tensor dense_weight(torch::ScalarType dtype) const;

  // Also moves the NF4 tensors (which are not torch parameters or buffers).
  void to(torch::Device device, torch::Dtype dtype, bool non_blocking = false) override;
  void to(torch::Dtype dtype, bool non_blocking = false) override;
  void to(torch::Device device, bool non_blocking = false) override;

  int64_t in_features, out_features;
  torch::Tensor weight;          // [out, in]; undefined once quantized
  torch::Tensor lora_A, lora_B;  // [r, in], [out, r]; undefined without an adapter

 private:
  // `w` (weight, lora_A or lora_B) in `dtype`: its compute copy, w itself, or a cast in the graph.
  torch::Tensor in_dtype(const torch::Tensor& w, const torch::Tensor& copy, torch::ScalarType dtype) const;
  enum CopySlot { kWeightCopy, kLoraACopy, kLoraBCopy };
  int copy_slot(const torch::Tensor& master) const;  // master's CopySlot, -1 for none of the three

  std::optional<Nf4Weight> nf4_;
  std::array<torch::Tensor, 3> copies_;  // compute copies by CopySlot; undefined: none
  double lora_scaling_ = 0.0;
  double lora_dropout_ = 0.0;
};
TORCH_MODULE(Linear);

}  // namespace arena
