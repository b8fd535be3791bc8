// Model-test helper: small Gemma-2 shapes (the tests that need no fixture build their model here).
#pragma once

#include <cstdint>

#include "model/gemma/config.h"

namespace arena::testing {

// Gemma-2's settings at a small size: MLP width 2·hidden, query_pre_attn_scalar = head_dim, even
// layers sliding (with the default 4096 window), two labels.
inline GemmaConfig small_gemma2_config(int64_t layers, int64_t hidden, int64_t heads, int64_t kv_heads,
                                        int64_t head_dim, int64_t vocab) {
  auto c = gemma2_2b_config(2);
  c.num_hidden_layers = layers;
  c.hidden_size = hidden;
  c.intermediate_size = 2 * hidden;
  c.num_attention_heads = heads;
  c.num_key_value_heads = kv_heads;
  c.head_dim = head_dim;
  c.query_pre_attn_scalar = static_cast<double>(head_dim);
  c.vocab_size = vocab;
  c.sliding_layers.assign(static_cast<size_t>(layers), false);
  for (size_t i = 0; i < c.sliding_layers.size(); i += 2) c.sliding_layers[i] = true;
  return c;
}

}  // namespace arena::testing
