#include "model/peft/qlora.h"

#include <torch/torch.h>

#include <algorithm>

#include "common/error.h"

namespace arena {

std::vector<std::pair<std::string, Linear>> layer_projections(DecoderLayerImpl& l) {
  return {{"self_attn.q_proj", l.self_attn->q_proj}, {"self_attn.k_proj", l.self_attn->k_proj},
          {"self_attn.v_proj", l.self_attn->v_proj}, {"self_attn.o_proj", l.self_attn->o_proj},
          {"mlp.gate_proj", l.mlp->gate_proj},       {"mlp.up_proj", l.mlp->up_proj},
          {"mlp.down_proj", l.mlp->down_proj}};
}

namespace {

std::string module_name(const std::string& path) { return path.substr(path.find('.') + 1); }

}  // namespace

std::vector<int64_t> lora_layers(const QloraOptions& o, int64_t num_layers) {
  const int64_t last = o.last_layer < 0 ? num_layers - 1 : o.last_layer;
  check(o.first_layer >= 0 && o.first_layer <= last && last < num_layers,
        "LoRA layer range {}..{} is empty or outside the model's {} layers", o.first_layer, last, num_layers);
  std::vector<int64_t> out;
  for (int64_t i = o.first_layer; i <= last; ++i) out.push_back(i);
  return out;
}

void apply_qlora(GemmaClassifierImpl& model, const QloraOptions& o) {
  static const std::vector<std::string> kKnown{"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj",
                                               "down_proj"};
  check(!o.target_modules.empty(), "LoRA: target_modules is empty");
  for (const auto& t : o.target_modules)
    check(std::find(kKnown.begin(), kKnown.end(), t) != kKnown.end(),
          "LoRA: unknown target module '{}' (expected one of q_proj, k_proj, v_proj, o_proj, gate_proj, up_proj, "
          "down_proj)", t);
  const auto layers = lora_layers(o, static_cast<int64_t>(model.model->layers.size()));
  const auto dtype = model.model->embed_tokens->weight.scalar_type();

  for (auto& p : model.parameters()) p.set_requires_grad(false);
  for (size_t i = 0; i < model.model->layers.size(); ++i) {
    const bool adapted = std::find(layers.begin(), layers.end(), static_cast<int64_t>(i)) != layers.end();
    for (auto& [path, linear] : layer_projections(*model.model->layers[i])) {
      if (o.quantize && !linear->quantized()) linear->quantize(o.double_quant);
      const auto name = module_name(path);
      if (adapted && std::find(o.target_modules.begin(), o.target_modules.end(), name) != o.target_modules.end()) {
        linear->add_lora(o.lora, dtype);
      }
    }
  }
  model.score->weight.set_requires_grad(true);
}

std::vector<std::pair<std::string, torch::Tensor>> peft_trainable_parameters(GemmaClassifierImpl& model) {
  std::vector<std::pair<std::string, torch::Tensor>> out;
  for (size_t i = 0; i < model.model->layers.size(); ++i) {
    for (auto& [path, linear] : layer_projections(*model.model->layers[i])) {
      if (!linear->has_lora()) continue;
      const auto prefix = fmt::format("base_model.model.model.layers.{}.{}.", i, path);
      out.emplace_back(prefix + "lora_A.weight", linear->lora_A);
      out.emplace_back(prefix + "lora_B.weight", linear->lora_B);
    }
  }
  out.emplace_back("base_model.model.score.weight", model.score->weight);
  return out;
}

namespace {
void trainables_to(GemmaClassifierImpl& model, torch::ScalarType dtype) {
  torch::NoGradGuard no_grad;
  for (auto& [name, t] : peft_trainable_parameters(model))
    if (t.scalar_type() != dtype) t.set_data(t.data().to(dtype));
}
}  // namespace

void trainables_to_fp32(GemmaClassifierImpl& model) { trainables_to(model, torch::kFloat32); }

void trainables_to_compute_dtype(GemmaClassifierImpl& model) {
  trainables_to(model, model.model->embed_tokens->weight.scalar_type());
}

std::shared_ptr<ComputeCopies> attach_compute_copies(GemmaClassifierImpl& model, const ComputeCopies::Named& named,
                                                     const torch::Tensor& flat) {
  const auto dtype = model.model->embed_tokens->weight.scalar_type();
  auto copies = std::make_shared<ComputeCopies>(model, named, flat, dtype);
  if (copies->active())
    model.before_forward = [weak = std::weak_ptr<ComputeCopies>(copies)] {
      if (const auto c = weak.lock()) c->refresh_if_stale();
    };
  return copies;
}

}  // namespace arena
