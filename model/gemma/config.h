// Gemma-2 architecture settings, read from a Hugging Face config.json.
// Field names follow transformers' Gemma2Config so a reader can check them side by side.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace arena {

struct Gemma2Config {
  int64_t vocab_size = 256000;
  int64_t hidden_size = 2304;
  int64_t intermediate_size = 9216;  // GeGLU width
  int64_t num_hidden_layers = 26;
  int64_t num_attention_heads = 8;
  int64_t num_key_value_heads = 4;  // GQA: each KV head serves heads/kv_heads query heads
  int64_t head_dim = 256;
  double rms_norm_eps = 1e-6;
  double rope_theta = 10000.0;
  double query_pre_attn_scalar = 256;    // scores are scaled by query_pre_attn_scalar^-0.5
  double attn_logit_softcapping = 50.0;  // cap·tanh(s/cap) on attention scores; 0 disables
  double final_logit_softcapping = 30.0; // LM head only: the classifier head never applies it
  int64_t sliding_window = 4096;         // window of the layers marked sliding
  std::vector<bool> sliding_layers;      // per layer; default: even layers slide
  std::string hidden_activation = "gelu_pytorch_tanh";
  int64_t pad_token_id = 0;  // pooling picks the last token that is not pad
  int64_t num_labels = 2;    // width of the `score` head

  int64_t kv_groups() const { return num_attention_heads / num_key_value_heads; }
  bool is_sliding(int64_t layer) const { return sliding_layers.at(static_cast<size_t>(layer)); }
};

// Parses config.json text. `source` names the file in error messages.
// Throws arena::Error on a missing required key, a wrong type, or inconsistent shapes.
Gemma2Config parse_gemma2_config(const std::string& json_text, const std::string& source);

// Reads `path` (a config.json, or a directory holding one).
Gemma2Config load_gemma2_config(const std::string& path);

// The published google/gemma-2-2b architecture, for shape-only checks and benchmarks.
Gemma2Config gemma2_2b_config(int64_t num_labels = 2);

}  // namespace arena
