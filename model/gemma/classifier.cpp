#include "model/gemma/classifier.h"

#include <torch/torch.h>

#include <cmath>

#include "model/gemma/recompute.h"
#include "model/nn/attention_mask.h"
#include "model/nn/rotary.h"

namespace arena {
namespace {

bool has_trainable(const torch::nn::Module& m) {
  for (const auto& p : m.parameters())
    if (p.requires_grad()) return true;
  return false;
}

}  // namespace

GemmaModelImpl::GemmaModelImpl(const GemmaConfig& c, const torch::TensorOptions& options) : config_(c) {
  embed_tokens = register_module("embed_tokens", ScaledEmbedding(c.vocab_size, c.hidden_size, c.pad_token_id, options));
  auto list = register_module("layers", torch::nn::ModuleList());
  for (int64_t i = 0; i < c.num_hidden_layers; ++i) {
    layers.push_back(DecoderLayer(c, i, options));
    list->push_back(layers.back());
  }
  norm = register_module("norm", RMSNorm(c.hidden_size, c.rms_norm_eps, options));
}

torch::Tensor GemmaModelImpl::forward(const torch::Tensor& input_ids, const torch::Tensor& attention_mask,
                                       const torch::Tensor& position_ids) {
  return norm(run_layers(input_ids, attention_mask, position_ids, {}));
}

torch::Tensor GemmaModelImpl::forward_at(const torch::Tensor& input_ids, const torch::Tensor& attention_mask,
                                          const torch::Tensor& rows, const torch::Tensor& position_ids) {
  return norm(run_layers(input_ids, attention_mask, position_ids, rows)).squeeze(1);
}

torch::Tensor GemmaModelImpl::run_layers(const torch::Tensor& input_ids, const torch::Tensor& attention_mask,
                                          const torch::Tensor& position_ids, const torch::Tensor& rows) {
  const auto dtype = embed_tokens->weight.scalar_type();
  const int64_t seq = input_ids.size(1);
  auto h = embed_tokens(input_ids);

  const auto positions = position_ids.defined()
                             ? position_ids
                             : torch::arange(seq, input_ids.options().dtype(torch::kInt64)).unsqueeze(0);
  // Full layers rotate with rope_theta (linearly scaled on Gemma-3 4B+), sliding ones with
  // rope_local_base_freq; Gemma-2 has one base, so one table serves both.
  const auto& c = config_;
  const auto global = rotary_tables(positions, c.head_dim, c.rope_theta, dtype, c.rope_scaling_factor);
  const bool one_table = c.rope_local_base_freq == c.rope_theta && c.rope_scaling_factor == 1.0;
  const auto local = one_table ? global : rotary_tables(positions, c.head_dim, c.rope_local_base_freq, dtype);
  const auto full_bias = attention_bias(attention_mask, /*window=*/0, dtype);
  // A window at least as long as the sequence masks nothing: share the full mask then.
  const bool window_masks = config_.sliding_window > 0 && config_.sliding_window < seq;
  const auto sliding_bias = window_masks ? attention_bias(attention_mask, config_.sliding_window, dtype) : full_bias;

  const bool recompute = recompute_ && torch::GradMode::is_enabled();
  int64_t recomputed = 0;
  for (auto& layer : layers) {
    // The last layer computes only the rows asked for; every earlier one feeds its keys and values.
    const torch::Tensor only = &layer == &layers.back() ? rows : torch::Tensor();
    const auto& bias = layer->sliding() ? sliding_bias : full_bias;
    const auto& [cos, sin] = layer->sliding() ? local : global;
    // A layer that builds no graph (frozen, below the adapters) stores nothing either way.
    const bool graph = recompute && (h.requires_grad() || has_trainable(*layer));
    const bool again = graph && (recompute_layers_ < 0 || recomputed < recompute_layers_);
    recomputed += again ? 1 : 0;
    h = again ? recompute_layer(*layer, h, cos, sin, bias, only) : layer->forward(h, cos, sin, bias, only);
  }
  return h;
}

GemmaClassifierImpl::GemmaClassifierImpl(const GemmaConfig& c, const torch::TensorOptions& options) {
  model = register_module("model", GemmaModel(c, options));
  score = register_module("score", Linear(c.hidden_size, c.num_labels, 0.02, options));
}

torch::Tensor GemmaClassifierImpl::forward(const torch::Tensor& input_ids, const torch::Tensor& attention_mask,
                                            const torch::Tensor& position_ids) {
  // Pool first, then score: the head is per-token linear, so this equals scoring every token. The
  // last layer runs only at the pooled token (forward_at), the same values as the full layer's.
  if (before_forward) before_forward();
  const auto last = last_token_index(input_ids, config().pad_token_id);
  return score(model->forward_at(input_ids, attention_mask, last, position_ids));
}

torch::Tensor last_token_index(const torch::Tensor& input_ids, int64_t pad_id) {
  const auto not_pad = (input_ids != pad_id).to(torch::kInt64);
  const auto positions = torch::arange(input_ids.size(1), input_ids.options().dtype(torch::kInt64));
  return (positions * not_pad).argmax(-1);
}

torch::Tensor classification_loss(const torch::Tensor& logits, const torch::Tensor& labels) {
  return torch::nn::functional::cross_entropy(logits.to(torch::kFloat32), labels);
}

int64_t parameter_count(const torch::nn::Module& module) {
  int64_t n = 0;
  for (const auto& p : module.parameters()) n += p.numel();
  return n;
}

}  // namespace arena
