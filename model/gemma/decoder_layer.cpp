#include "model/gemma/decoder_layer.h"

#include <torch/torch.h>

#include "model/nn/take_positions.h"

namespace arena {

DecoderLayerImpl::DecoderLayerImpl(const GemmaConfig& c, int64_t layer_index, const torch::TensorOptions& options)
    : sliding_(c.is_sliding(layer_index)) {
  const auto norm = [&](const char* name) {
    return register_module(name, RMSNorm(c.hidden_size, c.rms_norm_eps, options));
  };
  input_layernorm = norm("input_layernorm");
  self_attn = register_module("self_attn", Attention(c, layer_index, options));
  post_attention_layernorm = norm("post_attention_layernorm");
  pre_feedforward_layernorm = norm("pre_feedforward_layernorm");
  mlp = register_module("mlp", Mlp(c, options));
  post_feedforward_layernorm = norm("post_feedforward_layernorm");
}

torch::Tensor DecoderLayerImpl::forward(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin,
                                        const torch::Tensor& bias, const torch::Tensor& rows) {
  const auto residual = rows.defined() ? take_positions(x, rows, 1) : x;
  auto h = residual + post_attention_layernorm(self_attn(input_layernorm(x), cos, sin, bias, rows));
  return h + post_feedforward_layernorm(mlp(pre_feedforward_layernorm(h)));
}

}  // namespace arena
