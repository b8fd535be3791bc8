// Gemma-2 grouped-query self-attention with soft-capped scores ("eager" math: the reference's
// SDPA path drops the soft-cap, so we never use it).
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/pimpl.h>

#include "model/gemma/config.h"
#include "model/lora/linear.h"

namespace arena {

class AttentionImpl : public torch::nn::Module {
 public:
  AttentionImpl(const Gemma2Config& config, const torch::TensorOptions& options);

  // x [B, S, hidden]; cos/sin [B|1, S, head_dim]; bias [B, 1, S, S] additive (attention_bias()).
  // Returns [B, S, hidden].
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin,
                        const torch::Tensor& bias);

  Linear q_proj{nullptr}, k_proj{nullptr}, v_proj{nullptr}, o_proj{nullptr};

 private:
  int64_t heads_, kv_heads_, head_dim_;
  double scaling_;  // query_pre_attn_scalar^-0.5
  double softcap_;  // 0: off
};
TORCH_MODULE(Attention);

}  // namespace arena
