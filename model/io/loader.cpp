#include "model/io/loader.h"

#include <torch/torch.h>

#include <set>

#include "common/error.h"
#include "model/gemma/hf_names.h"
#include "model/io/bnb_format.h"
#include "model/io/gguf_loader.h"

namespace arena {
namespace {

std::string shape_text(at::IntArrayRef s) { return fmt::format("[{}]", fmt::join(s, ", ")); }

bool is_float(torch::ScalarType t) {
  return t == torch::kFloat32 || t == torch::kBFloat16 || t == torch::kFloat16;
}

}  // namespace

LoadReport load_hf_weights(GemmaClassifierImpl& model, const SafetensorsCheckpoint& ckpt) {
  LoadReport report;
  const auto table = hf_parameter_table(model);
  std::set<std::string> known;
  std::vector<std::string> missing;
  torch::NoGradGuard no_grad;
  for (const auto& entry : table) {
    known.insert(entry.hf_name);
    if (entry.projection != nullptr && has_bnb_4bit(ckpt, entry.hf_name)) {
      // A bitsandbytes 4-bit checkpoint: keep the weight in NF4 exactly as stored.
      entry.projection->set_quantized(read_bnb_nf4(ckpt, entry.hf_name, entry.shape));
      for (const auto& companion : bnb_companion_names(ckpt, entry.hf_name)) known.insert(companion);
      ++report.loaded;
      ++report.quantized;
      continue;
    }
    if (!ckpt.contains(entry.hf_name)) {
      if (entry.optional) {
        report.initialized.push_back(entry.hf_name);
      } else {
        missing.push_back(fmt::format("'{}' (expected {})", entry.hf_name, shape_text(entry.shape)));
      }
      continue;
    }
    check(entry.param.defined(), "{}: tensor '{}' is dense but the model already holds it in NF4",
          ckpt.file_of(entry.hf_name), entry.hf_name);
    const auto src = ckpt.tensor(entry.hf_name);
    check(src.sizes() == at::IntArrayRef(entry.shape), "{}: tensor '{}' has shape {}, expected {}",
          ckpt.file_of(entry.hf_name), entry.hf_name, shape_text(src.sizes()), shape_text(entry.shape));
    check(is_float(src.scalar_type()), "{}: tensor '{}' has dtype {}, expected F32, BF16 or F16",
          ckpt.file_of(entry.hf_name), entry.hf_name, c10::toString(src.scalar_type()));
    entry.param.copy_(src);
    ++report.loaded;
  }
  if (!missing.empty()) {
    throw Error(fmt::format("{}: {} tensor(s) missing from the checkpoint: {}{}", ckpt.path(), missing.size(),
                            fmt::join(missing.begin(), missing.begin() + std::min<size_t>(missing.size(), 8), ", "),
                            missing.size() > 8 ? ", ..." : ""));
  }
  for (const auto& name : ckpt.names()) {
    if (known.count(name)) continue;
    check(hf_name_is_ignored(name), "{}: unexpected tensor '{}' {} (not part of a Gemma model / score head)",
          ckpt.file_of(name), name, shape_text(ckpt.shape_of(name)));
    report.ignored.push_back(name);
  }
  return report;
}

GemmaConfig load_model_config(const std::string& path) {
  return is_gguf_path(path) ? gguf_gemma_config(open_gguf_model(path)) : load_gemma_config(path);
}

GemmaClassifier load_gemma_classifier(const std::string& dir, torch::ScalarType dtype, torch::Device device,
                                        int64_t num_labels, LoadReport* report, bool embedding_on_host) {
  if (is_gguf_path(dir)) return load_gguf_classifier(dir, dtype, device, num_labels, report, embedding_on_host);
  auto config = load_gemma_config(dir);
  if (num_labels > 0) config.num_labels = num_labels;
  // Build on the CPU (copy straight from the mapping), then move once.
  GemmaClassifier model(config, torch::TensorOptions().dtype(dtype));
  SafetensorsCheckpoint ckpt(dir);
  auto r = load_hf_weights(*model, ckpt);
  if (report != nullptr) *report = std::move(r);
  if (embedding_on_host) model->model->embed_tokens->set_host_resident(true);  // stays here on the move
  if (device != torch::kCPU) model->to(device);
  return model;
}

}  // namespace arena
