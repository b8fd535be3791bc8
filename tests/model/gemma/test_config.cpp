#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "common/error.h"
#include "model/gemma/config.h"

namespace arena {
namespace {

// The published google/gemma-2-2b config.json, as written by transformers.
const char* kGemma2_2b = R"({
  "architectures": ["Gemma2ForCausalLM"], "attention_bias": false, "attention_dropout": 0.0,
  "attn_logit_softcapping": 50.0, "bos_token_id": 2, "cache_implementation": "hybrid",
  "eos_token_id": 1, "final_logit_softcapping": 30.0, "head_dim": 256,
  "hidden_act": "gelu_pytorch_tanh", "hidden_activation": "gelu_pytorch_tanh", "hidden_size": 2304,
  "initializer_range": 0.02, "intermediate_size": 9216, "max_position_embeddings": 8192,
  "model_type": "gemma2", "num_attention_heads": 8, "num_hidden_layers": 26, "num_key_value_heads": 4,
  "pad_token_id": 0, "query_pre_attn_scalar": 256, "rms_norm_eps": 1e-06, "rope_theta": 10000.0,
  "sliding_window": 4096, "torch_dtype": "float32", "transformers_version": "4.42.4", "use_cache": true,
  "vocab_size": 256000})";

TEST(Config, ParsesPublishedGemma2_2b) {
  const auto c = parse_gemma_config(kGemma2_2b, "config.json");
  EXPECT_EQ(c.hidden_size, 2304);
  EXPECT_EQ(c.num_hidden_layers, 26);
  EXPECT_EQ(c.num_attention_heads, 8);
  EXPECT_EQ(c.num_key_value_heads, 4);
  EXPECT_EQ(c.head_dim, 256);
  EXPECT_EQ(c.intermediate_size, 9216);
  EXPECT_EQ(c.vocab_size, 256000);
  EXPECT_DOUBLE_EQ(c.attn_logit_softcapping, 50.0);
  EXPECT_DOUBLE_EQ(c.query_pre_attn_scalar, 256.0);
  EXPECT_EQ(c.sliding_window, 4096);
  ASSERT_EQ(c.sliding_layers.size(), 26u);
  // Without layer_types, even layers slide (the reference's default).
  EXPECT_TRUE(c.is_sliding(0));
  EXPECT_FALSE(c.is_sliding(1));
  EXPECT_TRUE(c.is_sliding(24));
  EXPECT_FALSE(c.is_sliding(25));
  EXPECT_EQ(c.num_labels, 2);
}

TEST(Config, BuiltInGemma2_2bMatchesPublished) {
  const auto a = parse_gemma_config(kGemma2_2b, "config.json");
  const auto b = gemma2_2b_config();
  EXPECT_EQ(a.hidden_size, b.hidden_size);
  EXPECT_EQ(a.intermediate_size, b.intermediate_size);
  EXPECT_EQ(a.vocab_size, b.vocab_size);
  EXPECT_EQ(a.sliding_layers, b.sliding_layers);
  EXPECT_DOUBLE_EQ(a.rms_norm_eps, b.rms_norm_eps);
}

TEST(Config, LayerTypesAndLabels) {
  const auto c = parse_gemma_config(R"({"model_type":"gemma2","vocab_size":10,"hidden_size":8,
    "intermediate_size":16,"num_hidden_layers":2,"num_attention_heads":2,"num_key_value_heads":1,"head_dim":4,
    "layer_types":["full_attention","sliding_attention"],"id2label":{"0":"a","1":"b","2":"tie"}})",
                                     "x.json");
  EXPECT_FALSE(c.is_sliding(0));
  EXPECT_TRUE(c.is_sliding(1));
  EXPECT_EQ(c.num_labels, 3);
  EXPECT_EQ(c.kv_groups(), 2);
}

// google/gemma-3-270m's config.json (transformers 4.55 layout: legacy RoPE keys).
const char* kGemma3_270m = R"({
  "_sliding_window_pattern": 6, "architectures": ["Gemma3ForCausalLM"], "attention_bias": false,
  "attention_dropout": 0.0, "attn_logit_softcapping": null, "bos_token_id": 2, "eos_token_id": 1,
  "final_logit_softcapping": null, "head_dim": 256, "hidden_activation": "gelu_pytorch_tanh", "hidden_size": 640,
  "initializer_range": 0.02, "intermediate_size": 2048,
  "layer_types": ["sliding_attention", "sliding_attention", "sliding_attention", "sliding_attention",
    "sliding_attention", "full_attention", "sliding_attention", "sliding_attention", "sliding_attention",
    "sliding_attention", "sliding_attention", "full_attention", "sliding_attention", "sliding_attention",
    "sliding_attention", "sliding_attention", "sliding_attention", "full_attention"],
  "max_position_embeddings": 32768, "model_type": "gemma3_text", "num_attention_heads": 4,
  "num_hidden_layers": 18, "num_key_value_heads": 1, "pad_token_id": 0, "query_pre_attn_scalar": 256,
  "rms_norm_eps": 1e-06, "rope_local_base_freq": 10000.0, "rope_scaling": null, "rope_theta": 1000000.0,
  "sliding_window": 512, "torch_dtype": "bfloat16", "use_bidirectional_attention": false, "use_cache": true,
  "vocab_size": 262144})";

TEST(Config, ParsesPublishedGemma3_270m) {
  const auto c = parse_gemma_config(kGemma3_270m, "config.json");
  EXPECT_TRUE(c.is_gemma3());
  EXPECT_TRUE(c.qk_norm);
  EXPECT_EQ(c.hidden_size, 640);
  EXPECT_EQ(c.num_hidden_layers, 18);
  EXPECT_EQ(c.num_key_value_heads, 1);
  EXPECT_EQ(c.vocab_size, 262144);
  EXPECT_DOUBLE_EQ(c.attn_logit_softcapping, 0.0);
  EXPECT_DOUBLE_EQ(c.final_logit_softcapping, 0.0);
  EXPECT_DOUBLE_EQ(c.rope_theta, 1e6);
  EXPECT_DOUBLE_EQ(c.rope_local_base_freq, 1e4);
  EXPECT_DOUBLE_EQ(c.rope_scaling_factor, 1.0);
  EXPECT_EQ(c.sliding_window, 512);
  EXPECT_EQ(c.sliding_layers, gemma3_sliding_layers(18));
  EXPECT_FALSE(c.is_sliding(5));
  EXPECT_TRUE(c.is_sliding(6));
}

TEST(Config, Gemma3DefaultsRopeParametersAndTextConfig) {
  // transformers 5 layout: rope_parameters keyed by attention type, linear scaling on full layers.
  const auto c = parse_gemma_config(R"({"model_type":"gemma3_text","num_hidden_layers":7,
    "rope_parameters":{"full_attention":{"rope_type":"linear","factor":8.0,"rope_theta":1000000.0},
                       "sliding_attention":{"rope_type":"default","rope_theta":10000.0}}})",
                                    "x.json");
  EXPECT_EQ(c.hidden_size, 2304);  // Gemma3TextConfig's default
  EXPECT_DOUBLE_EQ(c.rope_scaling_factor, 8.0);
  EXPECT_DOUBLE_EQ(c.rope_local_base_freq, 1e4);
  // No layer_types: every 6th layer attends fully.
  EXPECT_EQ(c.sliding_layers, (std::vector<bool>{true, true, true, true, true, false, true}));
  // A multimodal gemma3 config: the text model is under text_config, labels stay on top.
  const auto m = parse_gemma_config(R"({"model_type":"gemma3","num_labels":3,
    "text_config":{"model_type":"gemma3_text","hidden_size":2560,"num_hidden_layers":34,
                   "rope_scaling":{"rope_type":"linear","factor":8.0}}})",
                                    "y.json");
  EXPECT_TRUE(m.is_gemma3());
  EXPECT_EQ(m.hidden_size, 2560);
  EXPECT_EQ(m.num_labels, 3);
  EXPECT_DOUBLE_EQ(m.rope_scaling_factor, 8.0);
}

void expect_error(const std::string& json, const std::string& needle) {
  try {
    parse_gemma_config(json, "bad/config.json");
    FAIL() << "expected an error containing '" << needle << "'";
  } catch (const Error& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("bad/config.json"), std::string::npos) << what;
    EXPECT_NE(what.find(needle), std::string::npos) << what;
  }
}

TEST(Config, ErrorsNameTheFileAndTheKey) {
  expect_error("{not json", "not valid JSON");
  expect_error(R"({"model_type":"llama"})", "model_type");
  expect_error(R"({"model_type":"gemma3_text","use_bidirectional_attention":true})", "use_bidirectional_attention");
  expect_error(R"({"model_type":"gemma3_text","rope_scaling":{"rope_type":"yarn","factor":4}})", "yarn");
  expect_error(R"({"model_type":"gemma3"})", "text_config");
  expect_error(R"({"model_type":"gemma2","vocab_size":10,"hidden_size":8,"intermediate_size":16,"num_hidden_layers":2,
    "num_attention_heads":0})", "num_attention_heads");
  expect_error(R"({"model_type":"gemma3_text","num_hidden_layers":-3})", "num_hidden_layers");
  expect_error(R"({"model_type":"gemma3_text","num_hidden_layers":2,"layer_types":[1,2]})", "layer_types[0]");
  expect_error(R"({"model_type":"gemma3_text","num_hidden_layers":2,"sliding_window":0})", "sliding_window");
  expect_error(R"({"model_type":"gemma2","hidden_size":8})", "vocab_size");
  expect_error(R"({"model_type":"gemma2","vocab_size":"many","hidden_size":8})", "vocab_size");
  expect_error(R"({"model_type":"gemma2","vocab_size":3e40,"hidden_size":8})", "key 'vocab_size' is 3e+40, expected an integer");
  expect_error(R"({"model_type":"gemma3_text","num_hidden_layers":2.5})", "key 'num_hidden_layers' is 2.5");
  expect_error(R"({"model_type":"gemma2","vocab_size":10,"hidden_size":8,"intermediate_size":16,
    "num_hidden_layers":2,"num_attention_heads":3,"num_key_value_heads":2})", "multiple of num_key_value_heads");
  expect_error(R"({"model_type":"gemma2","vocab_size":10,"hidden_size":8,"intermediate_size":16,
    "num_hidden_layers":2,"num_attention_heads":2,"layer_types":["full_attention"]})", "layer_types");
}

TEST(Config, MissingFileIsAnError) {
  EXPECT_THROW(load_gemma_config("/nonexistent/dir"), Error);
}

}  // namespace
}  // namespace arena
