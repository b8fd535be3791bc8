#include "launch/model_setup.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>

#include "common/error.h"
#include "model/io/loader.h"
#include "model/nn/softcap_attention.h"

namespace arena {

torch::Device pick_device(const TrainConfig& c, const World& w) {
  const bool cuda = torch::cuda::is_available();
  if (c.device == "cpu" || (c.device == "auto" && !cuda)) return torch::Device(torch::kCPU);
  check(cuda, "train.device = cuda, but no CUDA device is visible to rank {}", w.rank);
  const int count = static_cast<int>(torch::cuda::device_count());
  return torch::Device(torch::kCUDA, static_cast<c10::DeviceIndex>(w.local_rank % count));
}

torch::ScalarType compute_dtype(const TrainConfig& c, const torch::Device& device) {
  if (c.precision == "bf16") return torch::kBFloat16;
  if (c.precision == "fp32") return torch::kFloat32;
  return device.is_cuda() ? torch::kBFloat16 : torch::kFloat32;
}

GemmaConfig random_init_config(const TrainConfig& c) {
  auto g = gemma2_2b_config(c.num_labels);
  if (c.model_preset == "gemma2-2b") return g;
  check(c.num_heads % c.num_kv_heads == 0, "model.num_heads ({}) must be a multiple of model.num_kv_heads ({})",
        c.num_heads, c.num_kv_heads);
  g.hidden_size = c.hidden_size;
  g.num_hidden_layers = c.num_layers;
  g.num_attention_heads = c.num_heads;
  g.num_key_value_heads = c.num_kv_heads;
  g.head_dim = c.head_dim;
  g.intermediate_size = c.intermediate_size;
  g.query_pre_attn_scalar = static_cast<double>(c.head_dim);
  g.sliding_layers.assign(static_cast<size_t>(c.num_layers), false);
  for (size_t i = 0; i < g.sliding_layers.size(); i += 2) g.sliding_layers[i] = true;
  return g;
}

QloraOptions qlora_options(const TrainConfig& c) {
  QloraOptions q;
  q.quantize = c.nf4;
  q.lora.rank = c.lora_rank;
  q.lora.alpha = c.lora_alpha;
  q.lora.dropout = c.lora_dropout;
  q.lora.rslora = c.rslora;
  q.target_modules = c.lora_targets;
  q.first_layer = c.lora_first_layer;
  q.last_layer = c.lora_last_layer;
  return q;
}

bool embedding_on_host(const TrainConfig& c, const torch::Device& device) {
  return c.embedding == "host" || (c.embedding == "auto" && device.is_cuda());
}

GemmaClassifier build_classifier(const TrainConfig& c, const torch::Device& device, bool verbose) {
  const auto dtype = compute_dtype(c, device);
  // Process-wide, like the other kernel switches: one model per process.
  set_attention_kernel(c.attention == "eager"   ? AttentionKernel::kEager
                       : c.attention == "flash" ? AttentionKernel::kFlash
                                                : AttentionKernel::kAuto);
  const bool on_host = embedding_on_host(c, device);
  torch::manual_seed(static_cast<uint64_t>(c.seed));
  GemmaClassifier model{nullptr};
  if (!c.model_path.empty()) {
    LoadReport report;
    model = load_gemma_classifier(c.model_path, dtype, device, c.num_labels, &report, on_host);
    if (verbose)
      fmt::print(stderr, "model: {} tensors from {} ({} already NF4)\n", report.loaded, c.model_path, report.quantized);
  } else {
    // Initialized on the run's device type and quantized there: the same bytes on every rank.
    model = GemmaClassifier(random_init_config(c), torch::TensorOptions().dtype(dtype).device(device));
    // Drawn on the device like every other weight (the same bytes whatever the placement), then moved.
    model->model->embed_tokens->set_host_resident(on_host);
    if (verbose)
      fmt::print(stderr, "model: random init ({}, seed {}), {} parameters\n",
                 c.model_preset == "custom" ? "custom Gemma-2 shape" : "Gemma-2-2B shape", c.seed,
                 parameter_count(*model));
  }
  apply_qlora(*model, qlora_options(c));
  if (c.head_init_std != 0.02) {  // the default is drawn where the head is built; only a change draws again
    torch::NoGradGuard no_grad;
    if (c.head_init_std == 0) {
      model->score->weight.zero_();
    } else {
      model->score->weight.normal_(0.0, c.head_init_std);
    }
  }
  if (verbose && on_host && device.is_cuda())
    fmt::print(stderr, "model: token embedding kept in host memory ({:.2f} GiB; model.embedding = {})\n",
               static_cast<double>(model->model->embed_tokens->weight.nbytes()) / (1 << 30), c.embedding);
  model->model->set_recompute(c.recompute);
  model->model->set_recompute_layers(c.recompute_layers);
  trainables_to_fp32(*model);
  return model;
}

namespace {
// Σ|t| in float64, 16M elements at a time: no float64 copy of a whole embedding at start-up.
double abs_sum(const torch::Tensor& t) {
  double sum = 0;
  for (const auto& chunk : t.reshape({-1}).split(int64_t{1} << 24))
    sum += chunk.to(torch::kFloat64).abs().sum().item<double>();
  return sum;
}
}  // namespace

bool same_base(double stored, double current) {
  return std::abs(stored - current) <= 1e-9 * std::max(1.0, std::abs(current));
}

double base_fingerprint(GemmaClassifierImpl& model) {
  torch::NoGradGuard no_grad;
  double sum = 0;
  for (const auto& p : model.parameters())
    if (!p.requires_grad()) sum += abs_sum(p);
  for (auto& layer : model.model->layers)
    for (auto& [path, linear] : layer_projections(*layer))
      if (linear->quantized()) sum += abs_sum(linear->nf4().packed) + abs_sum(nf4_absmax(linear->nf4()));
  return sum;
}

}  // namespace arena
