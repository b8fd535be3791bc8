// One Gemma-2 decoder layer: four RMSNorms around attention and the MLP ("sandwich" norms).
//   h = x + post_attention_norm(attn(input_norm(x)))
//   y = h + post_feedforward_norm(mlp(pre_feedforward_norm(h)))
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/pimpl.h>

#include "model/gemma/attention.h"
#include "model/gemma/config.h"
#include "model/gemma/mlp.h"
#include "model/nn/rms_norm.h"

namespace arena {

class DecoderLayerImpl : public torch::nn::Module {
 public:
  DecoderLayerImpl(const GemmaConfig& config, int64_t layer_index, const torch::TensorOptions& options);

  // x [B, S, hidden]; bias is the mask for this layer's kind (sliding or full).
  // With rows ([B] int64), the output only at position rows[b] of each row b, [B, 1, hidden]:
  // keys and values over all of x, everything else for that one position (the classifier's last
  // layer, whose other positions nothing reads).
  torch::Tensor forward(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin,
                        const torch::Tensor& bias, const torch::Tensor& rows = {});

  bool sliding() const { return sliding_; }

  RMSNorm input_layernorm{nullptr}, post_attention_layernorm{nullptr};
  RMSNorm pre_feedforward_layernorm{nullptr}, post_feedforward_layernorm{nullptr};
  Attention self_attn{nullptr};
  Mlp mlp{nullptr};

 private:
  bool sliding_;
};
TORCH_MODULE(DecoderLayer);

}  // namespace arena
