#include "model/io/gguf_loader.h"

#include <torch/torch.h>

#include <cmath>
#include <map>

#include "common/error.h"
#include "model/gemma/hf_names.h"

namespace arena {
namespace {

std::string shape_text(at::IntArrayRef s) { return fmt::format("[{}]", fmt::join(s, ", ")); }

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// llama.cpp's converter stores Gemma's RMSNorm weights as (1 + w) because its norm multiplies by
// the weight directly.
bool stored_plus_one(const std::string& gguf_name) { return ends_with(gguf_name, "norm.weight"); }

uint32_t get_count(const GgufFile& f, const std::string& key) {
  const uint32_t v = f.get_u32(key);
  check(v > 0 && v < (1u << 24), "{}: key '{}' is {}, not a plausible size", f.path(), key, v);
  return v;
}

}  // namespace

GemmaConfig gguf_gemma_config(const GgufFile& f) {
  const std::string arch = f.get_string("general.architecture");
  check(arch == "gemma3", "{}: general.architecture is '{}'; arena reads Gemma-3 GGUF files ('gemma3')", f.path(),
        arch);
  const auto key = [&](const char* k) { return arch + "." + k; };
  GemmaConfig c;
  c.model_type = "gemma3_text";
  c.qk_norm = true;
  c.attn_logit_softcapping = 0.0;
  c.hidden_size = get_count(f, key("embedding_length"));
  c.num_hidden_layers = get_count(f, key("block_count"));
  c.intermediate_size = get_count(f, key("feed_forward_length"));
  c.num_attention_heads = get_count(f, key("attention.head_count"));
  c.num_key_value_heads = get_count(f, key("attention.head_count_kv"));
  c.head_dim = get_count(f, key("attention.key_length"));
  if (f.has(key("attention.value_length"))) {
    check(f.get_u32(key("attention.value_length")) == c.head_dim, "{}: key '{}' ({}) differs from key_length ({})",
          f.path(), key("attention.value_length"), f.get_u32(key("attention.value_length")), c.head_dim);
  }
  c.rms_norm_eps = f.get_f32(key("attention.layer_norm_rms_epsilon"));
  c.rope_theta = f.get_f32(key("rope.freq_base"));
  c.rope_local_base_freq = f.has(key("rope.freq_base_swa")) ? f.get_f32(key("rope.freq_base_swa")) : 10'000.0;
  if (f.has(key("rope.scaling.type"))) {
    const auto type = f.get_string(key("rope.scaling.type"));
    check(type == "linear" || type == "none", "{}: key '{}' is '{}'; Gemma-3 uses linear scaling", f.path(),
          key("rope.scaling.type"), type);
    if (type == "linear") c.rope_scaling_factor = f.get_f32(key("rope.scaling.factor"));
  }
  c.final_logit_softcapping =
      f.has(key("final_logit_softcapping")) ? f.get_f32(key("final_logit_softcapping")) : 0.0;
  // llama.cpp: a file without a window has no sliding layers.
  const bool swa = f.has(key("attention.sliding_window")) && f.get_u32(key("attention.sliding_window")) > 0;
  c.sliding_window = swa ? f.get_u32(key("attention.sliding_window")) : 0;
  c.sliding_layers = swa ? gemma3_sliding_layers(c.num_hidden_layers)
                         : std::vector<bool>(static_cast<size_t>(c.num_hidden_layers), false);
  // llama.cpp's attention scale: 1/sqrt(head_dim), but hidden/heads for Gemma-3 27B (62 layers),
  // which is what query_pre_attn_scalar (168) says in that model's config.json.
  c.query_pre_attn_scalar = c.num_hidden_layers == 62
                                ? static_cast<double>(c.hidden_size) / static_cast<double>(c.num_attention_heads)
                                : static_cast<double>(c.head_dim);
  const auto& embd = f.tensor("token_embd.weight");
  check(embd.shape.size() == 2 && embd.shape[1] == c.hidden_size, "{}: tensor 'token_embd.weight' has shape {}, expected [vocab, {}]",
        f.path(), shape_text(embd.shape), c.hidden_size);
  c.vocab_size = embd.shape[0];
  if (f.has("tokenizer.ggml.padding_token_id")) c.pad_token_id = f.get_u32("tokenizer.ggml.padding_token_id");
  validate_gemma_config(c, f.path());
  return c;
}

LoadReport load_gguf_weights(GemmaClassifierImpl& model, const GgufFile& f) {
  LoadReport report;
  std::map<std::string, const HfParam*> by_name;
  const auto table = hf_parameter_table(model);
  for (const auto& e : table) by_name[e.hf_name] = &e;
  std::map<std::string, bool> loaded;
  torch::NoGradGuard no_grad;
  for (const auto& info : f.tensors()) {
    const auto hf = hf_name_of_gguf(info.name);
    check(!hf.empty(), "{}: unexpected tensor '{}' {} (not part of a Gemma-3 text model)", f.path(), info.name,
          shape_text(info.shape));
    if (hf_name_is_ignored(hf)) {  // a separate output.weight; Gemma ties it to the embedding
      report.ignored.push_back(info.name);
      continue;
    }
    const auto it = by_name.find(hf);
    check(it != by_name.end(), "{}: tensor '{}' ({}) has no place in this model ({} layers)", f.path(), info.name,
          hf, model.config().num_hidden_layers);
    const HfParam& entry = *it->second;
    check(info.shape == entry.shape, "{}: tensor '{}' has shape {}, expected {}", f.path(), info.name,
          shape_text(info.shape), shape_text(entry.shape));
    check(entry.param.defined(), "{}: tensor '{}': the model already holds it in NF4", f.path(), info.name);
    // fp32 CPU parameters take the values in place (no second copy of the 671 MB embedding);
    // other dtypes go through one fp32 temporary.
    const bool in_place = entry.param.scalar_type() == torch::kFloat32 && entry.param.is_cpu() &&
                          entry.param.is_contiguous();
    auto values = in_place ? entry.param : torch::empty(info.shape, torch::kFloat32);
    try {
      gguf_dequantize(info.type, f.data(info), info.n_elements, values.data_ptr<float>());
    } catch (const Error& e) {
      throw Error(fmt::format("{}: tensor '{}': {}", f.path(), info.name, e.what()));
    }
    if (stored_plus_one(info.name)) values.sub_(1.0f);
    if (!in_place) entry.param.copy_(values);
    loaded[hf] = true;
    ++report.loaded;
  }
  std::vector<std::string> missing;
  for (const auto& e : table) {
    if (loaded.count(e.hf_name)) continue;
    if (e.optional) {
      report.initialized.push_back(e.hf_name);
    } else {
      missing.push_back(e.hf_name);
    }
  }
  check(missing.empty(), "{}: {} tensor(s) missing, e.g. '{}'", f.path(), missing.size(),
        missing.empty() ? "" : missing.front());
  return report;
}

GemmaClassifier load_gguf_classifier(const std::string& path, torch::ScalarType dtype, torch::Device device,
                                     int64_t num_labels, LoadReport* report, bool embedding_on_host) {
  const auto file = open_gguf_model(path);
  auto config = gguf_gemma_config(file);
  if (num_labels > 0) config.num_labels = num_labels;
  GemmaClassifier model(config, torch::TensorOptions().dtype(dtype));
  auto r = load_gguf_weights(*model, file);
  if (report != nullptr) *report = std::move(r);
  if (embedding_on_host) model->model->embed_tokens->set_host_resident(true);
  if (device != torch::kCPU) model->to(device);
  return model;
}

}  // namespace arena
