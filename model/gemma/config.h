// Gemma-2 architecture settings, read from a Hugging Face config.json.
// Field names follow transformers' GemmaConfig so a reader can check them side by side.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace arena {

struct GemmaConfig {
  std::string model_type = "gemma2";  // gemma2 | gemma3_text
  int64_t vocab_size = 256000;
  int64_t hidden_size = 2304;
  int64_t intermediate_size = 9216;  // GeGLU width
  int64_t num_hidden_layers = 26;
  int64_t num_attention_heads = 8;
  int64_t num_key_value_heads = 4;  // GQA: each KV head serves heads/kv_heads query heads
  int64_t head_dim = 256;
  double rms_norm_eps = 1e-6;
  double rope_theta = 10000.0;            // RoPE base of full-attention layers (Gemma-3: 1e6)
  double rope_local_base_freq = 10000.0;  // RoPE base of sliding layers (Gemma-2: = rope_theta)
  double rope_scaling_factor = 1.0;       // linear RoPE scaling, full layers only (Gemma-3 4B+: 8)
  bool qk_norm = false;                   // Gemma-3: RMSNorm of q and k per head, before RoPE
  double query_pre_attn_scalar = 256;    // scores are scaled by query_pre_attn_scalar^-0.5
  double attn_logit_softcapping = 50.0;  // cap·tanh(s/cap) on attention scores; 0 disables (Gemma-3)
  double final_logit_softcapping = 30.0; // LM head only (0: none, Gemma-3); never the classifier head
  int64_t sliding_window = 4096;         // window of the layers marked sliding
  std::vector<bool> sliding_layers;      // per layer; default: even layers slide (Gemma-3: 5 of 6)
  std::string hidden_activation = "gelu_pytorch_tanh";
  int64_t pad_token_id = 0;  // pooling picks the last token that is not pad
  int64_t num_labels = 2;    // width of the `score` head

  bool is_gemma3() const { return model_type == "gemma3_text"; }
  int64_t kv_groups() const { return num_attention_heads / num_key_value_heads; }
  bool is_sliding(int64_t layer) const { return sliding_layers.at(static_cast<size_t>(layer)); }
};

// Parses config.json text: gemma2, gemma3_text, or gemma3 (its text_config; the vision tower is not
// supported). Gemma-3 keys absent from the file take transformers' Gemma3TextConfig defaults;
// Gemma-2 configs must state their sizes. `source` names the file in error messages.
// Throws arena::Error on a missing required key, a wrong type, an unsupported feature
// (bidirectional attention, a RoPE type other than default/linear), or inconsistent shapes.
GemmaConfig parse_gemma_config(const std::string& json_text, const std::string& source);

// Reads `path` (a config.json, or a directory holding one).
GemmaConfig load_gemma_config(const std::string& path);

// The published google/gemma-2-2b architecture, for shape-only checks and benchmarks.
GemmaConfig gemma2_2b_config(int64_t num_labels = 2);

// Gemma-3's default layer pattern: layer i slides unless (i + 1) is a multiple of `pattern` (6).
std::vector<bool> gemma3_sliding_layers(int64_t num_layers, int64_t pattern = 6);

// Checks shapes and supported features; `source` names the config in the error.
void validate_gemma_config(const GemmaConfig& c, const std::string& source);

}  // namespace arena
