#include "model/gemma/hf_names.h"

#include <fmt/format.h>

namespace arena {

std::vector<HfParam> hf_parameter_table(Gemma2ClassifierImpl& m) {
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

bool hf_name_is_ignored(const std::string& hf_name) {
  // lm_head is tied to the embedding in Gemma-2 causal-LM checkpoints; older exports also
  // carry the rotary inverse frequencies, which we recompute.
  return hf_name == "lm_head.weight" || hf_name.find("rotary_emb.inv_freq") != std::string::npos;
}

}  // namespace arena
