#include "model/gemma/config.h"

#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/error.h"

namespace arena {
namespace {

using nlohmann::json;

template <typename T>
T get_or(const json& j, const char* key, T fallback, const std::string& source) {
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return fallback;
  try {
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

}  // namespace

Gemma2Config parse_gemma2_config(const std::string& json_text, const std::string& source) {
  json j;
  try {
    j = json::parse(json_text);
  } catch (const json::parse_error& e) {
    throw Error(fmt::format("{}: not valid JSON ({})", source, e.what()));
  }
  check(j.is_object(), "{}: expected a JSON object at the top level", source);
  const auto model_type = get_or<std::string>(j, "model_type", "gemma2", source);
  check(model_type == "gemma2", "{}: model_type is '{}', expected 'gemma2'", source, model_type);

  Gemma2Config c;
  c.vocab_size = get_required<int64_t>(j, "vocab_size", source);
  c.hidden_size = get_required<int64_t>(j, "hidden_size", source);
  c.intermediate_size = get_required<int64_t>(j, "intermediate_size", source);
  c.num_hidden_layers = get_required<int64_t>(j, "num_hidden_layers", source);
  c.num_attention_heads = get_required<int64_t>(j, "num_attention_heads", source);
  c.num_key_value_heads = get_or<int64_t>(j, "num_key_value_heads", c.num_attention_heads, source);
  c.head_dim = get_or<int64_t>(j, "head_dim", c.hidden_size / c.num_attention_heads, source);
  c.rms_norm_eps = get_or<double>(j, "rms_norm_eps", 1e-6, source);
  c.rope_theta = get_or<double>(j, "rope_theta", 10000.0, source);
  // transformers >= 5 nests it: "rope_parameters": {"rope_type": "default", "rope_theta": ...}.
  if (j.contains("rope_parameters") && j["rope_parameters"].is_object()) {
    const auto& rope = j["rope_parameters"];
    const auto type = get_or<std::string>(rope, "rope_type", "default", source);
    check(type == "default", "{}: rope_parameters.rope_type '{}' is not supported (Gemma-2 uses 'default')",
          source, type);
    c.rope_theta = get_or<double>(rope, "rope_theta", c.rope_theta, source);
  }
  c.query_pre_attn_scalar = get_or<double>(j, "query_pre_attn_scalar", 256.0, source);
  c.attn_logit_softcapping = get_or<double>(j, "attn_logit_softcapping", 0.0, source);
  c.final_logit_softcapping = get_or<double>(j, "final_logit_softcapping", 0.0, source);
  c.sliding_window = get_or<int64_t>(j, "sliding_window", 4096, source);
  c.pad_token_id = get_or<int64_t>(j, "pad_token_id", 0, source);
  c.hidden_activation = get_or<std::string>(
      j, "hidden_activation", get_or<std::string>(j, "hidden_act", "gelu_pytorch_tanh", source), source);

  if (j.contains("id2label") && j["id2label"].is_object()) {
    c.num_labels = static_cast<int64_t>(j["id2label"].size());
  }
  c.num_labels = get_or<int64_t>(j, "num_labels", c.num_labels, source);

  // transformers >= 4.53 writes layer_types; older configs imply "even layers slide".
  c.sliding_layers.assign(static_cast<size_t>(c.num_hidden_layers), false);
  if (j.contains("layer_types") && j["layer_types"].is_array()) {
    const auto& types = j["layer_types"];
    check(static_cast<int64_t>(types.size()) == c.num_hidden_layers,
          "{}: layer_types has {} entries, num_hidden_layers is {}", source, types.size(),
          c.num_hidden_layers);
    for (size_t i = 0; i < types.size(); ++i) {
      const auto t = types[i].get<std::string>();
      check(t == "sliding_attention" || t == "full_attention",
            "{}: layer_types[{}] is '{}', expected sliding_attention or full_attention", source, i, t);
      c.sliding_layers[i] = (t == "sliding_attention");
    }
  } else {
    for (size_t i = 0; i < c.sliding_layers.size(); ++i) c.sliding_layers[i] = (i % 2 == 0);
  }

  check(c.hidden_size > 0 && c.num_hidden_layers > 0 && c.vocab_size > 0 && c.head_dim > 0,
        "{}: sizes must be positive", source);
  check(c.num_key_value_heads > 0 && c.num_attention_heads % c.num_key_value_heads == 0,
        "{}: num_attention_heads ({}) must be a multiple of num_key_value_heads ({})", source,
        c.num_attention_heads, c.num_key_value_heads);
  check(c.head_dim % 2 == 0, "{}: head_dim ({}) must be even for rotary embeddings", source, c.head_dim);
  check(c.hidden_activation == "gelu_pytorch_tanh" || c.hidden_activation == "gelu_tanh",
        "{}: hidden_activation '{}' is not supported (Gemma-2 uses gelu_pytorch_tanh)", source,
        c.hidden_activation);
  check(c.num_labels >= 1, "{}: num_labels must be >= 1", source);
  return c;
}

Gemma2Config load_gemma2_config(const std::string& path) {
  namespace fs = std::filesystem;
  fs::path p(path);
  if (fs::is_directory(p)) p /= "config.json";
  std::ifstream in(p);
  check(in.good(), "{}: cannot open config", p.string());
  std::stringstream ss;
  ss << in.rdbuf();
  return parse_gemma2_config(ss.str(), p.string());
}

Gemma2Config gemma2_2b_config(int64_t num_labels) {
  Gemma2Config c;  // the defaults are the published gemma-2-2b values
  c.sliding_layers.assign(static_cast<size_t>(c.num_hidden_layers), false);
  for (size_t i = 0; i < c.sliding_layers.size(); ++i) c.sliding_layers[i] = (i % 2 == 0);
  c.num_labels = num_labels;
  return c;
}

}  // namespace arena
