#include "model/gemma/attention.h"

#include <torch/torch.h>

#include <cmath>

#include "model/nn/chunked_attention.h"
#include "model/nn/fused_ops.h"
#include "model/nn/rotary.h"
#include "model/nn/softcap_attention.h"
#include "model/nn/take_positions.h"

namespace arena {

AttentionImpl::AttentionImpl(const GemmaConfig& c, int64_t layer_index, const torch::TensorOptions& options)
    : heads_(c.num_attention_heads),
      kv_heads_(c.num_key_value_heads),
      head_dim_(c.head_dim),
      scaling_(1.0 / std::sqrt(c.query_pre_attn_scalar)),
      softcap_(c.attn_logit_softcapping),
      window_(c.is_sliding(layer_index) ? c.sliding_window : 0) {
  const double std = 0.02;  // transformers' initializer_range
  q_proj = register_module("q_proj", Linear(c.hidden_size, heads_ * head_dim_, std, options));
  k_proj = register_module("k_proj", Linear(c.hidden_size, kv_heads_ * head_dim_, std, options));
  v_proj = register_module("v_proj", Linear(c.hidden_size, kv_heads_ * head_dim_, std, options));
  o_proj = register_module("o_proj", Linear(heads_ * head_dim_, c.hidden_size, std, options));
  if (c.qk_norm) {
    q_norm = register_module("q_norm", RMSNorm(head_dim_, c.rms_norm_eps, options));
    k_norm = register_module("k_norm", RMSNorm(head_dim_, c.rms_norm_eps, options));
  }
}

torch::Tensor AttentionImpl::forward(const torch::Tensor& x, const torch::Tensor& cos, const torch::Tensor& sin,
                                     const torch::Tensor& bias, const torch::Tensor& rows) {
  const int64_t b = x.size(0), s = x.size(1);
  // [B, S', n·D] -> [B, n, S', D], rotated: one fused pass each way where the fused kernels run.
  const auto rotated_heads = [&](const torch::Tensor& y, int64_t n, const torch::Tensor& c, const torch::Tensor& si) {
    if (use_fused_elementwise(y)) return rotary_heads_fused(y, c, si, n);
    return apply_rotary(y.view({b, y.size(1), n, head_dim_}).transpose(1, 2), c, si);
  };
  // Gemma-3: RMSNorm over each head's D values (layout-free, so before the split into heads).
  const auto normed = [&](const torch::Tensor& y, int64_t n, RMSNorm& norm) {
    return norm ? norm(y.view({b, y.size(1), n, head_dim_})).view({b, y.size(1), n * head_dim_}) : y;
  };
  const auto k = rotated_heads(normed(k_proj(x), kv_heads_, k_norm), kv_heads_, cos, sin);  // [B, KV, S, D]
  const auto v = v_proj(x).view({b, s, kv_heads_, head_dim_}).transpose(1, 2);
  if (rows.defined()) {
    // One query per row, at position rows[b], against every key: the eager core on a [B, H, 1, S]
    // score row, with that position's row of the mask and of the rotary tables.
    const auto q = rotated_heads(normed(q_proj(take_positions(x, rows, 1)), heads_, q_norm), heads_,
                                 take_positions(cos, rows, 1), take_positions(sin, rows, 1));  // [B, H, 1, D]
    const auto out = eager_softcap_attention(q, k, v, take_positions(bias, rows, 2), scaling_, softcap_);
    return o_proj(out.view({b, 1, heads_ * head_dim_}));
  }
  const auto q = rotated_heads(normed(q_proj(x), heads_, q_norm), heads_, cos, sin);  // [B, H, S, D]
  // The same math three ways: fused kernels on CUDA (model/nn/softcap_attention.h), chunk by chunk
  // on the CPU (model/nn/chunked_attention.h), or the eager chain. The bias is attention_bias()'s,
  // causal (and windowed on sliding layers), as the first two require.
  torch::Tensor out;
  if (use_fused_attention(q, s)) {
    out = softcap_attention(q, k, v, bias, scaling_, softcap_);
  } else if (use_chunked_attention(q)) {
    out = chunked_softcap_attention(q, k, v, bias, scaling_, softcap_, window_);
  } else {
    out = eager_softcap_attention(q, k, v, bias, scaling_, softcap_);
  }
  return o_proj(out.view({b, s, heads_ * head_dim_}));
}

}  // namespace arena
