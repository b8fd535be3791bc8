#include "model/gemma/config.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <type_traits>

#include "common/error.h"
#include "common/json_integer.h"

namespace arena {
namespace {

using nlohmann::json;

template <typename T>
T get_or(const json& j, const char* key, T fallback, const std::string& source) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return fallback;
  try {
    // An integer setting must be a JSON integer: a float would go through an undefined cast.
    if constexpr (std::is_integral_v<T> && !std::is_same_v<T, bool>)
      return json_integer<T>(*it, fmt::format("{}: key '{}'", source, key));
    return it->get<T>();
  } catch (const json::exception& e) {
    throw Error(fmt::format("{}: key '{}' has the wrong type ({})", source, key, e.what()));
  }
}

template <typename T>
T get_required(const json& j, const char* key, const std::string& source) {
  check(j.contains(key) && !j[key].is_null(), "{}: required key '{}' is missing", source, key);
  return get_or<T>(j, key, T{}, source);
}

// RoPE of one attention type: default, or linear scaling (inverse frequencies divided by `factor`).
void read_rope(const json& rope, const std::string& where, double& theta, double* factor, const std::string& source) {
  const auto type = get_or<std::string>(rope, "rope_type", get_or<std::string>(rope, "type", "default", source), source);
  check(type == "default" || (type == "linear" && factor != nullptr),
        "{}: {}.rope_type '{}' is not supported (Gemma uses 'default'{})", source, where, type,
        factor ? ", or 'linear' on full-attention layers" : "");
  theta = get_or<double>(rope, "rope_theta", theta, source);
  if (factor) *factor = type == "linear" ? get_required<double>(rope, "factor", source) : 1.0;
}

// transformers' Gemma2Config: sizes are required, one RoPE base, even layers slide.
GemmaConfig parse_gemma2(const json& j, const std::string& source) {
  GemmaConfig c;
  c.vocab_size = get_required<int64_t>(j, "vocab_size", source);
  c.hidden_size = get_required<int64_t>(j, "hidden_size", source);
  c.intermediate_size = get_required<int64_t>(j, "intermediate_size", source);
  c.num_hidden_layers = get_required<int64_t>(j, "num_hidden_layers", source);
  c.num_attention_heads = get_required<int64_t>(j, "num_attention_heads", source);
  check(c.num_attention_heads > 0 && c.num_hidden_layers > 0, "{}: num_attention_heads and num_hidden_layers must be "
        "positive", source);
  c.num_key_value_heads = get_or<int64_t>(j, "num_key_value_heads", c.num_attention_heads, source);
  c.head_dim = get_or<int64_t>(j, "head_dim", c.hidden_size / c.num_attention_heads, source);
  c.rope_theta = get_or<double>(j, "rope_theta", 10000.0, source);
  // transformers >= 5 nests it: "rope_parameters": {"rope_type": "default", "rope_theta": ...}.
  if (j.contains("rope_parameters") && j["rope_parameters"].is_object()) {
    read_rope(j["rope_parameters"], "rope_parameters", c.rope_theta, nullptr, source);
  }
  c.rope_local_base_freq = c.rope_theta;
  c.query_pre_attn_scalar = get_or<double>(j, "query_pre_attn_scalar", 256.0, source);
  c.attn_logit_softcapping = get_or<double>(j, "attn_logit_softcapping", 0.0, source);
  c.final_logit_softcapping = get_or<double>(j, "final_logit_softcapping", 0.0, source);
  c.sliding_window = get_or<int64_t>(j, "sliding_window", 4096, source);
  c.sliding_layers.assign(static_cast<size_t>(c.num_hidden_layers), false);
  for (size_t i = 0; i < c.sliding_layers.size(); ++i) c.sliding_layers[i] = (i % 2 == 0);
  return c;
}

// transformers' Gemma3TextConfig: absent keys take its defaults; q/k norms; no attention soft-cap
// (transformers 5.23 stores attn_logit_softcapping but never applies it to Gemma-3); one RoPE per
// attention type, linear scaling on full layers only; 5 of 6 layers slide by default.
GemmaConfig parse_gemma3_text(const json& j, const std::string& source) {
  GemmaConfig c;
  c.model_type = "gemma3_text";
  c.qk_norm = true;
  c.vocab_size = get_or<int64_t>(j, "vocab_size", 262208, source);
  c.hidden_size = get_or<int64_t>(j, "hidden_size", 2304, source);
  c.intermediate_size = get_or<int64_t>(j, "intermediate_size", 9216, source);
  c.num_hidden_layers = get_or<int64_t>(j, "num_hidden_layers", 26, source);
  c.num_attention_heads = get_or<int64_t>(j, "num_attention_heads", 8, source);
  c.num_key_value_heads = get_or<int64_t>(j, "num_key_value_heads", 4, source);
  c.head_dim = get_or<int64_t>(j, "head_dim", 256, source);
  check(c.num_hidden_layers > 0, "{}: num_hidden_layers must be positive", source);
  c.query_pre_attn_scalar = get_or<double>(j, "query_pre_attn_scalar", 256.0, source);
  c.attn_logit_softcapping = 0.0;
  c.final_logit_softcapping = get_or<double>(j, "final_logit_softcapping", 0.0, source);
  c.sliding_window = get_or<int64_t>(j, "sliding_window", 4096, source);
  check(!get_or<bool>(j, "use_bidirectional_attention", false, source),
        "{}: use_bidirectional_attention is not supported (EmbeddingGemma); arena trains causal models", source);
  // Legacy keys first, then transformers 5's rope_parameters keyed by attention type.
  c.rope_theta = get_or<double>(j, "rope_theta", 1'000'000.0, source);
  c.rope_local_base_freq = get_or<double>(j, "rope_local_base_freq", 10'000.0, source);
  if (j.contains("rope_scaling") && j["rope_scaling"].is_object()) {
    read_rope(j["rope_scaling"], "rope_scaling", c.rope_theta, &c.rope_scaling_factor, source);
  }
  if (j.contains("rope_parameters") && j["rope_parameters"].is_object()) {
    const auto& rope = j["rope_parameters"];
    if (rope.contains("full_attention") && rope["full_attention"].is_object()) {
      read_rope(rope["full_attention"], "rope_parameters.full_attention", c.rope_theta, &c.rope_scaling_factor,
                source);
    }
    if (rope.contains("sliding_attention") && rope["sliding_attention"].is_object()) {
      read_rope(rope["sliding_attention"], "rope_parameters.sliding_attention", c.rope_local_base_freq, nullptr,
                source);
    }
  }
  c.sliding_layers = gemma3_sliding_layers(c.num_hidden_layers, get_or<int64_t>(j, "sliding_window_pattern", 6, source));
  return c;
}

}  // namespace

GemmaConfig parse_gemma_config(const std::string& json_text, const std::string& source) {
  json j;
  try {
    j = json::parse(json_text);
  } catch (const json::parse_error& e) {
    throw Error(fmt::format("{}: not valid JSON ({})", source, e.what()));
  }
  check(j.is_object(), "{}: expected a JSON object at the top level", source);
  auto model_type = get_or<std::string>(j, "model_type", "gemma2", source);
  // A multimodal gemma3 config holds the language model under text_config; its labels stay on top.
  const json top = j;
  if (model_type == "gemma3") {
    check(j.contains("text_config") && j["text_config"].is_object(), "{}: model_type gemma3 without a text_config",
          source);
    json text = j["text_config"];
    j = std::move(text);
    model_type = "gemma3_text";
  }
  check(model_type == "gemma2" || model_type == "gemma3_text",
        "{}: model_type is '{}', expected 'gemma2', 'gemma3_text' or 'gemma3'", source, model_type);

  GemmaConfig c = model_type == "gemma2" ? parse_gemma2(j, source) : parse_gemma3_text(j, source);
  c.rms_norm_eps = get_or<double>(j, "rms_norm_eps", 1e-6, source);
  c.pad_token_id = get_or<int64_t>(j, "pad_token_id", get_or<int64_t>(top, "pad_token_id", 0, source), source);
  c.hidden_activation = get_or<std::string>(
      j, "hidden_activation", get_or<std::string>(j, "hidden_act", "gelu_pytorch_tanh", source), source);

  if (top.contains("id2label") && top["id2label"].is_object()) {
    c.num_labels = static_cast<int64_t>(top["id2label"].size());
  }
  c.num_labels = get_or<int64_t>(top, "num_labels", c.num_labels, source);

  // transformers >= 4.53 writes layer_types; without it the family's default pattern holds.
  if (j.contains("layer_types") && j["layer_types"].is_array()) {
    const auto& types = j["layer_types"];
    check(static_cast<int64_t>(types.size()) == c.num_hidden_layers,
          "{}: layer_types has {} entries, num_hidden_layers is {}", source, types.size(),
          c.num_hidden_layers);
    for (size_t i = 0; i < types.size(); ++i) {
      check(types[i].is_string(), "{}: layer_types[{}] is not a string", source, i);
      const auto t = types[i].get<std::string>();
      check(t == "sliding_attention" || t == "full_attention",
            "{}: layer_types[{}] is '{}', expected sliding_attention or full_attention", source, i, t);
      c.sliding_layers[i] = (t == "sliding_attention");
    }
  }
  validate_gemma_config(c, source);
  return c;
}

void validate_gemma_config(const GemmaConfig& c, const std::string& source) {
  check(c.hidden_size > 0 && c.num_hidden_layers > 0 && c.vocab_size > 0 && c.head_dim > 0 &&
            c.intermediate_size > 0,
        "{}: sizes must be positive", source);
  check(c.num_key_value_heads > 0 && c.num_attention_heads % c.num_key_value_heads == 0,
        "{}: num_attention_heads ({}) must be a multiple of num_key_value_heads ({})", source,
        c.num_attention_heads, c.num_key_value_heads);
  check(c.head_dim % 2 == 0, "{}: head_dim ({}) must be even for rotary embeddings", source, c.head_dim);
  check(static_cast<int64_t>(c.sliding_layers.size()) == c.num_hidden_layers,
        "{}: {} layer types for {} layers", source, c.sliding_layers.size(), c.num_hidden_layers);
  check(c.rope_theta > 0 && c.rope_local_base_freq > 0 && c.rope_scaling_factor > 0,
        "{}: RoPE bases and scaling must be positive", source);
  check(c.query_pre_attn_scalar > 0, "{}: query_pre_attn_scalar must be positive", source);
  check(c.num_attention_heads > 0, "{}: num_attention_heads must be positive", source);
  check(c.sliding_window > 0 || std::find(c.sliding_layers.begin(), c.sliding_layers.end(), true) == c.sliding_layers.end(),
        "{}: layers marked sliding_attention need a sliding_window > 0", source);
  check(c.hidden_activation == "gelu_pytorch_tanh" || c.hidden_activation == "gelu_tanh",
        "{}: hidden_activation '{}' is not supported (Gemma uses gelu_pytorch_tanh)", source,
        c.hidden_activation);
  check(c.num_labels >= 1, "{}: num_labels must be >= 1", source);
}

GemmaConfig load_gemma_config(const std::string& path) {
  namespace fs = std::filesystem;
  fs::path p(path);
  if (fs::is_directory(p)) p /= "config.json";
  std::ifstream in(p);
  check(in.good(), "{}: cannot open config", p.string());
  std::stringstream ss;
  ss << in.rdbuf();
  return parse_gemma_config(ss.str(), p.string());
}

GemmaConfig gemma2_2b_config(int64_t num_labels) {
  GemmaConfig c;  // the defaults are the published gemma-2-2b values
  c.sliding_layers.assign(static_cast<size_t>(c.num_hidden_layers), false);
  for (size_t i = 0; i < c.sliding_layers.size(); ++i) c.sliding_layers[i] = (i % 2 == 0);
  c.num_labels = num_labels;
  return c;
}

std::vector<bool> gemma3_sliding_layers(int64_t num_layers, int64_t pattern) {
  check(pattern >= 1, "sliding_window_pattern must be >= 1 (got {})", pattern);
  std::vector<bool> sliding(static_cast<size_t>(num_layers));
  for (int64_t i = 0; i < num_layers; ++i) sliding[static_cast<size_t>(i)] = (i + 1) % pattern != 0;
  return sliding;
}

}  // namespace arena
