#include "model/gemma/hf_names.h"

#include <fmt/format.h>

#include <map>

namespace arena {

std::vector<HfParam> hf_parameter_table(GemmaClassifierImpl& m) {
  std::vector<HfParam> t;
  const auto add = [&](std::string name, const torch::Tensor& p, bool optional = false) {
    t.push_back({std::move(name), p, p.sizes().vec(), optional, nullptr});
  };
  const auto add_projection = [&](std::string name, LinearImpl& linear) {
    t.push_back({std::move(name), linear.weight, {linear.out_features, linear.in_features}, false, &linear});
  };
  add("model.embed_tokens.weight", m.model->embed_tokens->weight);
  for (size_t i = 0; i < m.model->layers.size(); ++i) {
    auto& l = *m.model->layers[i];
    const std::string p = fmt::format("model.layers.{}.", i);
    add(p + "input_layernorm.weight", l.input_layernorm->weight);
    add_projection(p + "self_attn.q_proj.weight", *l.self_attn->q_proj);
    add_projection(p + "self_attn.k_proj.weight", *l.self_attn->k_proj);
    add_projection(p + "self_attn.v_proj.weight", *l.self_attn->v_proj);
    add_projection(p + "self_attn.o_proj.weight", *l.self_attn->o_proj);
    if (l.self_attn->q_norm) {  // Gemma-3
      add(p + "self_attn.q_norm.weight", l.self_attn->q_norm->weight);
      add(p + "self_attn.k_norm.weight", l.self_attn->k_norm->weight);
    }
    add(p + "post_attention_layernorm.weight", l.post_attention_layernorm->weight);
    add(p + "pre_feedforward_layernorm.weight", l.pre_feedforward_layernorm->weight);
    add_projection(p + "mlp.gate_proj.weight", *l.mlp->gate_proj);
    add_projection(p + "mlp.up_proj.weight", *l.mlp->up_proj);
    add_projection(p + "mlp.down_proj.weight", *l.mlp->down_proj);
    add(p + "post_feedforward_layernorm.weight", l.post_feedforward_layernorm->weight);
  }
  add("model.norm.weight", m.model->norm->weight);
  add("score.weight", m.score->weight, /*optional=*/true);
  return t;
}

std::string hf_name_of_gguf(const std::string& gguf_name) {
  static const std::map<std::string, std::string> kTop = {
      {"token_embd.weight", "model.embed_tokens.weight"},
      {"output_norm.weight", "model.norm.weight"},
      {"output.weight", "lm_head.weight"},
  };
  // llama.cpp's per-block names (its Gemma-2/3 tensor map) -> the module path inside a layer.
  static const std::map<std::string, std::string> kBlock = {
      {"attn_norm", "input_layernorm"},
      {"attn_q", "self_attn.q_proj"},
      {"attn_k", "self_attn.k_proj"},
      {"attn_v", "self_attn.v_proj"},
      {"attn_output", "self_attn.o_proj"},
      {"attn_q_norm", "self_attn.q_norm"},
      {"attn_k_norm", "self_attn.k_norm"},
      {"post_attention_norm", "post_attention_layernorm"},
      {"ffn_norm", "pre_feedforward_layernorm"},
      {"ffn_gate", "mlp.gate_proj"},
      {"ffn_up", "mlp.up_proj"},
      {"ffn_down", "mlp.down_proj"},
      {"post_ffw_norm", "post_feedforward_layernorm"},
  };
  if (auto it = kTop.find(gguf_name); it != kTop.end()) return it->second;
  // blk.<N>.<name>.weight
  const std::string prefix = "blk.", suffix = ".weight";
  if (gguf_name.rfind(prefix, 0) != 0 || gguf_name.size() <= prefix.size() + suffix.size() ||
      gguf_name.compare(gguf_name.size() - suffix.size(), suffix.size(), suffix) != 0) {
    return {};
  }
  const auto rest = gguf_name.substr(prefix.size(), gguf_name.size() - prefix.size() - suffix.size());
  const auto dot = rest.find('.');
  if (dot == std::string::npos || dot == 0 ||
      rest.find_first_not_of("0123456789") != dot) {
    return {};
  }
  const auto it = kBlock.find(rest.substr(dot + 1));
  if (it == kBlock.end()) return {};
  return fmt::format("model.layers.{}.{}.weight", rest.substr(0, dot), it->second);
}

bool hf_name_is_ignored(const std::string& hf_name) {
  // lm_head is tied to the embedding in Gemma-2 causal-LM checkpoints; older exports also
  // carry the rotary inverse frequencies, which we recompute.
  return hf_name == "lm_head.weight" || hf_name.find("rotary_emb.inv_freq") != std::string::npos;
}

}  // namespace arena
