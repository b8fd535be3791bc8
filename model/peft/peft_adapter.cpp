#include "model/peft/peft_adapter.h"

#include <torch/torch.h>

#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <set>

#include "common/error.h"
#include "model/gemma/hf_names.h"
#include "model/io/safetensors.h"

namespace arena {

void save_peft_adapter(GemmaClassifierImpl& model, const QloraOptions& o, const std::string& dir,
                       const std::string& base_model) {
  namespace fs = std::filesystem;
  fs::create_directories(dir);
  save_safetensors((fs::path(dir) / "adapter_model.safetensors").string(), peft_trainable_parameters(model),
                   {{"format", "pt"}});
  const nlohmann::json config = {
      {"peft_type", "LORA"},
      {"task_type", "SEQ_CLS"},
      {"base_model_name_or_path", base_model},
      {"r", o.lora.rank},
      {"lora_alpha", o.lora.alpha},
      {"lora_dropout", o.lora.dropout},
      {"use_rslora", o.lora.rslora},
      {"target_modules", o.target_modules},
      {"layers_to_transform", lora_layers(o, static_cast<int64_t>(model.model->layers.size()))},
      {"modules_to_save", {"score"}},
      {"bias", "none"},
      {"fan_in_fan_out", false},
      {"init_lora_weights", true},
      {"inference_mode", true},
      {"use_dora", false},
  };
  const auto path = fs::path(dir) / "adapter_config.json";
  const auto tmp = path.string() + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << config.dump(2) << "\n";
    check(out.good(), "{}: write failed", tmp);
  }
  fs::rename(tmp, path);
}

int64_t load_peft_adapter(GemmaClassifierImpl& model, const std::string& dir) {
  const auto file = (std::filesystem::path(dir) / "adapter_model.safetensors").string();
  const auto st = SafetensorsFile::open(file);
  std::set<std::string> expected;
  torch::NoGradGuard no_grad;
  int64_t n = 0;
  for (auto& [name, param] : peft_trainable_parameters(model)) {
    expected.insert(name);
    check(st->contains(name), "{}: missing tensor '{}' (expected [{}])", file, name, fmt::join(param.sizes(), ", "));
    const auto src = st->tensor(name);
    check(src.sizes() == param.sizes(), "{}: tensor '{}' has shape [{}], expected [{}]", file, name,
          fmt::join(src.sizes(), ", "), fmt::join(param.sizes(), ", "));
    param.copy_(src);
    ++n;
  }
  for (const auto& [name, _] : st->entries())
    check(expected.count(name) > 0, "{}: unexpected tensor '{}' (the model's LoRA layout differs: check r, "
          "target_modules and layers_to_transform)", file, name);
  return n;
}

void save_dense_base(GemmaClassifierImpl& model, const std::string& path, torch::ScalarType dtype) {
  std::vector<std::pair<std::string, torch::Tensor>> tensors;
  for (const auto& e : hf_parameter_table(model)) {
    const auto t = e.projection != nullptr ? e.projection->dense_weight(dtype) : e.param.detach().to(dtype);
    tensors.emplace_back(e.hf_name, t);
  }
  save_safetensors(path, tensors, {{"format", "pt"}});
}

}  // namespace arena
