#include "model/peft/merged_export.h"

#include <torch/torch.h>

#include <filesystem>
#include <fstream>

#include "common/error.h"
#include "model/gemma/hf_config.h"
#include "model/gemma/hf_names.h"
#include "model/io/safetensors.h"

namespace arena {

torch::Tensor merged_weight(const LinearImpl& p) {
  torch::NoGradGuard no_grad;
  auto w = p.dense_weight(torch::kFloat32);
  if (p.has_lora()) {
    const auto a = p.lora_A.detach().to(w.device(), torch::kFloat32);
    const auto b = p.lora_B.detach().to(w.device(), torch::kFloat32);
    w = w + p.lora_scaling() * torch::matmul(b, a);
  }
  return w;
}

void save_merged_model(GemmaClassifierImpl& model, const std::string& dir, torch::ScalarType dtype,
                       const std::vector<std::string>& labels) {
  namespace fs = std::filesystem;
  torch::NoGradGuard no_grad;
  fs::create_directories(dir);
  std::vector<std::pair<std::string, torch::Tensor>> tensors;
  for (const auto& e : hf_parameter_table(model)) {
    const auto t = e.projection != nullptr ? merged_weight(*e.projection) : e.param.detach().to(torch::kFloat32);
    check(t.sizes().vec() == e.shape, "merged export: '{}' has shape [{}], expected [{}]", e.hf_name,
          fmt::join(t.sizes(), ","), fmt::join(e.shape, ","));
    tensors.emplace_back(e.hf_name, t.to(torch::kCPU, dtype).contiguous());
  }
  save_safetensors((fs::path(dir) / "model.safetensors").string(), tensors, {{"format", "pt"}});
  const char* dtype_name = dtype == torch::kBFloat16 ? "bfloat16" : dtype == torch::kFloat16 ? "float16" : "float32";
  const auto path = fs::path(dir) / "config.json";
  const auto tmp = path.string() + ".tmp";
  {
    std::ofstream out(tmp, std::ios::trunc);
    out << hf_config_json(model.config(), dtype_name, labels);
    check(out.good(), "{}: write failed", tmp);
  }
  fs::rename(tmp, path);
}

}  // namespace arena
