// Gemma grouped-query self-attention. Gemma-2 soft-caps the scores ("eager" math: the reference's
// SDPA path drops the soft-cap, so we never use it); Gemma-3 has no cap but RMSNorms q and k per
// head (q_norm, k_norm over head_dim, weights shared by the heads) before RoPE.
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/pimpl.h>

#include "model/gemma/config.h"
#include "model/lora/linear.h"
#include "model/nn/rms_norm.h"

namespace arena {

class AttentionImpl : public torch::nn::Module {
 public:
  // layer_index: whether the layer is sliding (config.is_sliding), for the chunked CPU core.
  AttentionImpl(const GemmaConfig& config, int64_t layer_index, const torch::TensorOptions& options);

  // x [B, S, hidden]; cos/sin [B|1, S, head_dim]; bias [B, 1, S, S] additive (attention_bias()).
  // Returns [B, S, hidden]. With rows ([B] int64) only the query at position rows[b] of each row
  // b, attending over all of x: [B, 1, hidden], forward()'s output at those positions.
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin,
                        const torch::Tensor& bias, const torch::Tensor& rows = {});

  Linear q_proj{nullptr}, k_proj{nullptr}, v_proj{nullptr}, o_proj{nullptr};
  RMSNorm q_norm{nullptr}, k_norm{nullptr};  // Gemma-3 only (config.qk_norm)

 private:
  int64_t heads_, kv_heads_, head_dim_;
  double scaling_;  // query_pre_attn_scalar^-0.5
  double softcap_;  // 0: off
  int64_t window_;  // the sliding window, 0 on full layers
};
TORCH_MODULE(Attention);

}  // namespace arena
