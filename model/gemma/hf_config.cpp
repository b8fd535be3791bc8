#include "model/gemma/hf_config.h"

#include <nlohmann/json.hpp>

#include "common/error.h"

namespace arena {

std::string hf_config_json(const GemmaConfig& c, const std::string& dtype, const std::vector<std::string>& labels) {
  using json = nlohmann::json;
  check(static_cast<int64_t>(labels.size()) == c.num_labels, "config.json: {} label names for {} classes",
        labels.size(), c.num_labels);
  json id2label = json::object(), label2id = json::object();
  for (size_t i = 0; i < labels.size(); ++i) {
    id2label[std::to_string(i)] = labels[i];
    label2id[labels[i]] = static_cast<int64_t>(i);
  }
  json layer_types = json::array();
  for (int64_t i = 0; i < c.num_hidden_layers; ++i)
    layer_types.push_back(c.is_sliding(i) ? "sliding_attention" : "full_attention");
  const auto cap = [](double v) { return v > 0 ? json(v) : json(nullptr); };
  json j = {
      {"model_type", c.model_type},
      {"architectures", {c.is_gemma3() ? "Gemma3TextForSequenceClassification" : "Gemma2ForSequenceClassification"}},
      {"vocab_size", c.vocab_size},
      {"hidden_size", c.hidden_size},
      {"intermediate_size", c.intermediate_size},
      {"num_hidden_layers", c.num_hidden_layers},
      {"num_attention_heads", c.num_attention_heads},
      {"num_key_value_heads", c.num_key_value_heads},
      {"head_dim", c.head_dim},
      {"hidden_activation", c.hidden_activation},
      {"rms_norm_eps", c.rms_norm_eps},
      // transformers types it as an integer (it is one in every Gemma config); a fractional value is kept as is.
      {"query_pre_attn_scalar", c.query_pre_attn_scalar == static_cast<double>(static_cast<int64_t>(c.query_pre_attn_scalar))
                                    ? json(static_cast<int64_t>(c.query_pre_attn_scalar))
                                    : json(c.query_pre_attn_scalar)},
      {"attn_logit_softcapping", cap(c.attn_logit_softcapping)},
      {"final_logit_softcapping", cap(c.final_logit_softcapping)},
      {"sliding_window", c.sliding_window},
      {"layer_types", layer_types},
      {"attention_bias", false},
      {"attention_dropout", 0.0},
      {"max_position_embeddings", c.is_gemma3() ? 131072 : 8192},
      {"pad_token_id", c.pad_token_id},
      {"bos_token_id", 2},
      {"eos_token_id", 1},
      {"tie_word_embeddings", true},
      {"num_labels", c.num_labels},
      {"id2label", id2label},
      {"label2id", label2id},
      {"dtype", dtype},
  };
  if (c.is_gemma3()) {
    json full = {{"rope_type", "default"}, {"rope_theta", c.rope_theta}};
    if (c.rope_scaling_factor != 1.0) full = {{"rope_type", "linear"}, {"rope_theta", c.rope_theta},
                                              {"factor", c.rope_scaling_factor}};
    j["rope_parameters"] = {{"full_attention", full},
                            {"sliding_attention", {{"rope_type", "default"}, {"rope_theta", c.rope_local_base_freq}}}};
    j["use_bidirectional_attention"] = false;
  } else {
    j["rope_parameters"] = {{"rope_type", "default"}, {"rope_theta", c.rope_theta}};
  }
  return j.dump(2) + "\n";
}

}  // namespace arena
