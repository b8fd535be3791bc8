// QLoRA training-step benchmark: the Gemma-2 classifier at a given shape (the real Gemma-2-2B by
// default) with random weights quantized to NF4, LoRA on layers first..last, timed full steps
// (forward, classification loss, backward, AdamW update of the trainable tensors), as the trainer
// (launch/trainer.cpp) runs them: adapters and head kept in fp32 (as PEFT keeps them) in one flat
// bucket, read through compute-dtype copies cast once per update whose gradients are folded into
// the bucket after each backward (model/lora/compute_copies.h; --no-compute-copies casts at every
// use instead, as before), AdamW on the whole bucket in a few ops. Before 2026-12-05
// this benchmark kept the adapters in the compute dtype and ran torch::optim::AdamW per tensor
// (about ten small ops per tensor, 281 tensors in the 2B recipe): `--adapter-dtype compute
// --optimizer torch` repeats that.
//
// Reports tokens/s and the median step time, the peak memory over the timed steps (on CUDA the
// caching allocator's peak allocated bytes; on the CPU the same count from bench/cpu_peak_allocator.h), model FLOPs utilization, and (--profile) the split of one step's GPU time into
// NF4 dequantization, GEMMs, attention and the rest, read from the torch (Kineto) profiler.
// bench/gpu_vs_peer.sh runs it beside bench/peer_train_step.py (transformers + PEFT + bnb).
#include <torch/csrc/autograd/profiler_kineto.h>
#include <torch/torch.h>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <fmt/ranges.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#ifdef ARENA_WITH_CUDA
#include <c10/cuda/CUDACachingAllocator.h>
#endif

#include "bench/cpu_peak_allocator.h"
#include "bench/cuda_graph_step.h"
#include "dist/grad_bucket.h"
#include "model/gemma/classifier.h"
#include "model/gemma/config.h"
#include "model/lora/geglu_lora_down.h"
#include "model/lora/lora_dropout.h"
#include "model/nn/fused_ops.h"
#include "model/nn/softcap_attention.h"
#include "model/peft/qlora.h"
#include "optim/adamw.h"

namespace {

struct Options {
  // Shape: 0 keeps the Gemma-2-2B value.
  int64_t layers = 0, hidden = 0, intermediate = 0, heads = 0, kv_heads = 0, head_dim = 0, vocab = 0;
  int64_t batch = 1, accum = 1, seq = 1900, steps = 5, warmup = 2, threads = 0;
  int64_t rank = 16, first_layer = 6, recompute_layers = -1;
  bool recompute = true, quantize = true, fused_elementwise = true, geglu_lora_down = true, fused_lora_dropout = true,
       profile = false, json = false, cuda_graph = false, compute_copies = true;
  std::string device = "auto", dtype = "bf16", attention = "auto", embedding = "host", optimizer = "bucket",
              adapter_dtype = "fp32", lora_dropout_kernels;
  double peak_tflops = 989.0;  // H100 SXM dense bf16
  int64_t seed = 0;
};

std::vector<std::string> split_list(const std::string& list) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= list.size()) {
    const size_t comma = std::min(list.find(',', start), list.size());
    if (comma > start) out.push_back(list.substr(start, comma - start));
    start = comma + 1;
  }
  return out;
}

std::string kernel_names(unsigned kernels) {
  std::vector<std::string> names;
  if (kernels & arena::kDropoutDownKernel) names.emplace_back("down");
  if (kernels & arena::kDropoutInputGradKernel) names.emplace_back("input-grad");
  if (kernels & arena::kDropoutWeightGradKernel) names.emplace_back("weight-grad");
  return names.empty() ? "none" : fmt::format("{}", fmt::join(names, ","));
}

arena::GemmaConfig make_config(const Options& o) {
  auto c = arena::gemma2_2b_config(2);
  if (o.layers > 0) c.num_hidden_layers = o.layers;
  if (o.hidden > 0) c.hidden_size = o.hidden;
  if (o.intermediate > 0) c.intermediate_size = o.intermediate;
  if (o.heads > 0) c.num_attention_heads = o.heads;
  if (o.kv_heads > 0) c.num_key_value_heads = o.kv_heads;
  if (o.head_dim > 0) c.head_dim = o.head_dim;
  if (o.head_dim > 0) c.query_pre_attn_scalar = static_cast<double>(o.head_dim);
  if (o.vocab > 0) c.vocab_size = o.vocab;
  c.sliding_layers.assign(static_cast<size_t>(c.num_hidden_layers), false);
  for (size_t i = 0; i < c.sliding_layers.size(); ++i) c.sliding_layers[i] = (i % 2 == 0);
  return c;
}

void synchronize(const torch::Device& d) {
  if (d.is_cuda()) torch::cuda::synchronize(d.index() < 0 ? 0 : d.index());
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0.0 : v[v.size() / 2];
}

// FLOPs per step, two ways (LoRA and the head left out of both: about 1 % at r = 16):
//   model (MFU, the LoRA convention of NVIDIA NeMo and others): forward + input gradient of the
//     frozen projections, 2 + 2 FLOPs per weight per token, plus attention (q·kᵀ and p·v, causal:
//     half the square, backward twice the forward). No recomputation, no weight gradients.
//   hardware (HFU, this project's earlier "MFU"): the same plus one more forward of everything when
//     recomputing. Both count every layer, though the layers below the adapters need no backward,
//     and every position of the last layer, which arena computes at the pooled token only (apart
//     from its keys and values): the convention's nominal work, about 1/layers of it not executed.
struct Flops {
  double linear_per_token = 0, attention_per_seq_fwd = 0;
  double model = 0, hardware = 0;
};

Flops model_flops(const arena::GemmaConfig& c, const Options& o) {
  const double h = static_cast<double>(c.hidden_size), q = static_cast<double>(c.num_attention_heads * c.head_dim),
               kv = static_cast<double>(c.num_key_value_heads * c.head_dim),
               m = static_cast<double>(c.intermediate_size), layers = static_cast<double>(c.num_hidden_layers);
  Flops f;
  const double weights = layers * (h * q + 2 * h * kv + q * h + 3 * h * m);
  f.linear_per_token = 2 * weights;
  const double s = static_cast<double>(o.seq);
  // 2 GEMMs × 2·S·S·H·D, halved for the causal mask.
  f.attention_per_seq_fwd = layers * 2.0 * s * s * static_cast<double>(c.num_attention_heads * c.head_dim);
  const double tokens = static_cast<double>(o.batch * o.accum * o.seq);
  const double seqs = static_cast<double>(o.batch * o.accum);
  f.model = tokens * f.linear_per_token * 2.0 + seqs * f.attention_per_seq_fwd * 3.0;
  // With --recompute-layers N only N of the layers with adapters recompute: that share of the term.
  const int64_t first = o.first_layer < c.num_hidden_layers ? o.first_layer : 0;  // as the model is built
  const double adapted = layers - static_cast<double>(first);
  const double share = o.recompute_layers < 0 ? 1.0 : std::min(1.0, static_cast<double>(o.recompute_layers) / adapted);
  f.hardware = f.model + (o.recompute ? share * (tokens * f.linear_per_token + seqs * f.attention_per_seq_fwd) : 0.0);
  return f;
}

// ---- the profile split ------------------------------------------------------------------------

struct Split {
  double dequant_ms = 0, gemm_ms = 0, attention_ms = 0, other_ms = 0, gpu_busy_ms = 0, wall_ms = 0;
  double attention_gemm_ms = 0;  // part of attention_ms
  int64_t kernels = 0, unlinked = 0;
  int64_t aten_calls = 0;  // aten:: operator calls on the host, at every nesting level
  std::vector<std::pair<std::string, double>> top;  // heaviest kernels by name
  // Most frequent kernels (GPU) or aten:: ops (host, every nesting level): name, count, total ms.
  // Where launches rather than work cost time, these are the ones to fuse.
  struct Frequent {
    std::string name;
    int64_t count = 0;
    double ms = 0;
  };
  std::vector<Frequent> frequent;
};

bool contains(const std::string& s, const char* what) { return s.find(what) != std::string::npos; }

bool is_gemm(const std::string& n) {
  return contains(n, "gemm") || contains(n, "Gemm") || contains(n, "nvjet") || contains(n, "xmma") ||
         contains(n, "cutlass") || contains(n, "sm90_") || contains(n, "sm80_") || contains(n, "cublas");
}

bool is_dequant(const std::string& n) { return contains(n, "dequantize") || contains(n, "unnest_kernel"); }

Split profile_step(const std::function<void()>& step, const torch::Device& device) {
  namespace prof = torch::autograd::profiler;
  using torch::profiler::impl::ActivityType;
  using torch::profiler::impl::ProfilerConfig;
  using torch::profiler::impl::ProfilerState;
  const ProfilerConfig config(ProfilerState::KINETO);
  const std::set<ActivityType> activities{ActivityType::CPU, ActivityType::CUDA};
  prof::prepareProfiler(config, activities);
  synchronize(device);
  prof::enableProfiler(config, activities);
  const auto t0 = std::chrono::steady_clock::now();
  step();
  synchronize(device);
  const auto t1 = std::chrono::steady_clock::now();
  const auto result = prof::disableProfiler();
  const auto& events = result->events();

  Split out;
  out.wall_ms = std::chrono::duration<double, std::milli>(t1 - t0).count();
  // Per name: count and ms, of the kernels on a GPU, or of the host's aten:: calls on the CPU.
  std::map<std::string, std::pair<int64_t, double>> per_name_count;
  // CPU ops by correlation id; attention intervals per thread: the "arena::attention" scopes,
  // plus backward ops whose forward (thread, sequence number) ran inside such a scope.
  std::map<uint64_t, size_t> by_corr;
  std::map<uint64_t, std::vector<std::pair<uint64_t, uint64_t>>> attention;  // thread -> intervals
  for (size_t i = 0; i < events.size(); ++i) {
    const auto& e = events[i];
    if (e.deviceType() != c10::DeviceType::CPU) continue;
    if (e.name().rfind("aten::", 0) == 0) {
      ++out.aten_calls;
      if (device.is_cpu()) {  // no kernels: count the host's calls instead
        auto& [count, ms] = per_name_count[e.name()];
        ++count;
        ms += static_cast<double>(e.durationNs()) / 1e6;
      }
    }
    if (e.correlationId() != 0) by_corr[e.correlationId()] = i;
    if (e.name() == "arena::attention") attention[e.startThreadId()].push_back({e.startNs(), e.endNs()});
  }
  const auto inside = [&](uint64_t thread, uint64_t t) {
    const auto it = attention.find(thread);
    if (it == attention.end()) return false;
    for (const auto& [a, b] : it->second)
      if (a <= t && t <= b) return true;
    return false;
  };
  std::set<std::pair<uint64_t, int64_t>> forward_ops;  // (thread, sequence nr) inside attention
  for (const auto& e : events) {
    if (e.deviceType() != c10::DeviceType::CPU || e.sequenceNr() < 0) continue;
    if (inside(e.startThreadId(), e.startNs())) forward_ops.insert({e.startThreadId(), e.sequenceNr()});
  }
  std::vector<std::pair<uint64_t, std::pair<uint64_t, uint64_t>>> backward_spans;
  for (const auto& e : events) {
    if (e.deviceType() != c10::DeviceType::CPU || e.sequenceNr() < 0 || !contains(e.name(), "Backward")) continue;
    if (forward_ops.count({e.fwdThreadId(), e.sequenceNr()}) != 0)
      backward_spans.push_back({e.startThreadId(), {e.startNs(), e.endNs()}});
  }
  for (const auto& [thread, span] : backward_spans) attention[thread].push_back(span);

  std::map<std::string, double> per_name;
  for (const auto& e : events) {
    // Device work only: libkineto's GPU_MEMCPY (3), GPU_MEMSET (4), CONCURRENT_KERNEL (5), see
    // kineto/ActivityType.h. GPU_USER_ANNOTATION (2) copies a user scope onto the GPU timeline
    // and spans the kernels inside it: counting it would count them twice.
    const auto kind = e.activityType();
    if (e.deviceType() != c10::DeviceType::CUDA || kind < 3 || kind > 5 || e.name() == "arena::attention") continue;
    const double ms = static_cast<double>(e.durationNs()) / 1e6;
    const auto name = e.name();
    ++out.kernels;
    out.gpu_busy_ms += ms;
    per_name[name] += ms;
    auto& [count, total] = per_name_count[name];
    ++count;
    total += ms;
    bool in_attention = contains(name, "softmax_forward_kernel") || contains(name, "softmax_backward_kernel") ||
                        contains(name, "flash_forward_kernel") || contains(name, "flash_dq_kernel") ||
                        contains(name, "flash_dkv_kernel");
    const auto it = by_corr.find(e.linkedCorrelationId());
    if (it == by_corr.end()) {
      ++out.unlinked;
    } else {
      const auto& op = events[it->second];
      in_attention = in_attention || inside(op.startThreadId(), op.startNs());
    }
    if (is_dequant(name)) {
      out.dequant_ms += ms;
    } else if (in_attention) {
      out.attention_ms += ms;
      if (is_gemm(name)) out.attention_gemm_ms += ms;
    } else if (is_gemm(name)) {
      out.gemm_ms += ms;
    } else {
      out.other_ms += ms;
    }
  }
  std::vector<std::pair<std::string, double>> top(per_name.begin(), per_name.end());
  std::sort(top.begin(), top.end(), [](const auto& a, const auto& b) { return a.second > b.second; });
  if (top.size() > 12) top.resize(12);
  out.top = top;
  for (const auto& [name, c] : per_name_count) out.frequent.push_back({name, c.first, c.second});
  std::sort(out.frequent.begin(), out.frequent.end(),
            [](const auto& a, const auto& b) { return a.count > b.count; });
  if (out.frequent.size() > 12) out.frequent.resize(12);
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  CLI::App app{"Time QLoRA training steps of the Gemma-2 classifier (random NF4 weights)"};
  app.add_option("--layers", o.layers, "Decoder layers (default: Gemma-2-2B's 26)");
  app.add_option("--hidden", o.hidden, "Hidden size (default 2304)");
  app.add_option("--intermediate", o.intermediate, "MLP width (default 9216)");
  app.add_option("--heads", o.heads, "Attention heads (default 8)");
  app.add_option("--kv-heads", o.kv_heads, "KV heads (default 4)");
  app.add_option("--head-dim", o.head_dim, "Head dimension (default 256; also sets query_pre_attn_scalar)");
  app.add_option("--vocab", o.vocab, "Vocabulary (default 256000)");
  app.add_option("--batch", o.batch, "Sequences per micro-batch (per device)");
  app.add_option("--accum", o.accum, "Micro-batches per optimizer step (gradient accumulation)");
  app.add_option("--seq", o.seq, "Tokens per sequence");
  app.add_option("--steps", o.steps, "Timed optimizer steps (median reported)");
  app.add_option("--warmup", o.warmup, "Untimed steps first");
  app.add_option("--rank", o.rank, "LoRA rank");
  app.add_option("--first-lora-layer", o.first_layer, "First layer with adapters (to the last; clamped to 0 when "
                                                      "the model is shallower)");
  app.add_option("--device", o.device, "auto, cuda or cpu")->check(CLI::IsMember({"auto", "cuda", "cpu"}));
  app.add_option("--dtype", o.dtype, "bf16 or f32")->check(CLI::IsMember({"bf16", "f32"}));
  app.add_option("--attention", o.attention,
                 "auto, eager, fused or flash (auto and fused alike: the fused kernels on CUDA, the chunked core "
                 "on the CPU; flash: the flash-style kernels on CUDA in bf16, else auto)")
      ->check(CLI::IsMember({"auto", "eager", "fused", "flash"}));
  app.add_option("--embedding", o.embedding,
                 "Frozen token table in host memory (only the batch's rows go to the GPU; the trainer's "
                 "default on CUDA) or on the device")
      ->check(CLI::IsMember({"host", "device"}));
  app.add_flag("!--no-recompute", o.recompute, "Keep activations instead of recomputing each layer in backward");
  app.add_option("--recompute-layers", o.recompute_layers,
                 "Recompute only the first N layers with adapters, keep the rest's activations (-1: all)");
  app.add_flag("!--no-quantize", o.quantize, "Dense frozen base instead of NF4");
  app.add_flag("!--no-fused-elementwise", o.fused_elementwise, "Eager RMSNorm and GeGLU chains instead of the fused kernels (CUDA, or the CPU in fp32/bf16)");
  app.add_flag("!--no-geglu-lora-down", o.geglu_lora_down,
               "GeGLU and down_proj's LoRA input as separate ops (keeps the GeGLU output for backward)");
  app.add_flag("!--no-fused-lora-dropout", o.fused_lora_dropout,
               "LoRA input dropout and the down-projection as two ops (dropout writes a copy of x): "
               "none of the three LoRA dropout kernels, nor their CPU loops");
  app.add_option("--lora-dropout-kernels", o.lora_dropout_kernels,
                 "Which LoRA dropout kernels run, comma-separated: down, input-grad, weight-grad, or none "
                 "(default: the library's default set)");
  app.add_option("--adapter-dtype", o.adapter_dtype,
                 "fp32: adapters and head in fp32, cast where used (the trainer's and PEFT's way); compute: in "
                 "the compute dtype")
      ->check(CLI::IsMember({"fp32", "compute"}));
  app.add_flag("!--no-compute-copies", o.compute_copies,
               "With fp32 adapters and the bucket: cast each adapter at every use, and its gradient back, "
               "instead of reading compute-dtype copies cast once per update (the trainer's way since "
               "2026-12-05)");
  app.add_option("--optimizer", o.optimizer,
                 "bucket: the trainer's AdamW on one flat bucket, gradients accumulated in place into it; "
                 "torch: torch::optim::AdamW per tensor")
      ->check(CLI::IsMember({"bucket", "torch"}));
  app.add_flag("--profile", o.profile,
               "Profile one more step and print the time split (GPU) and the number of aten:: calls");
  app.add_flag("--cuda-graph", o.cuda_graph,
               "Time replays of one step captured as a CUDA graph (needs --embedding device; a timing "
               "experiment: each replay reuses the captured dropout masks and optimizer step count)");
  app.add_option("--peak-tflops", o.peak_tflops, "Device peak bf16 TFLOP/s for MFU (H100 SXM: 989)");
  app.add_option("--threads", o.threads, "CPU intra-op threads (0: torch's default)");
  app.add_option("--seed", o.seed, "Random seed");
  app.add_flag("--json", o.json, "Print one JSON line last");
  CLI11_PARSE(app, argc, argv);
  if (o.cuda_graph && o.embedding == "host") {
    fmt::print(stderr, "--cuda-graph needs --embedding device (the host table's gather runs on the CPU, outside "
                       "a graph)\n");
    return 2;
  }

  if (o.threads > 0) torch::set_num_threads(static_cast<int>(o.threads));
  torch::manual_seed(static_cast<uint64_t>(o.seed));
  const bool cuda = o.device == "cuda" || (o.device == "auto" && torch::cuda::is_available());
  const torch::Device device = cuda ? torch::Device(torch::kCUDA, 0) : torch::Device(torch::kCPU);
  if (o.cuda_graph && !cuda) {
    fmt::print(stderr, "--cuda-graph needs a CUDA device\n");
    return 2;
  }
  auto* cpu_peak = cuda ? nullptr : &arena::bench::CpuPeakAllocator::install();
  arena::set_attention_kernel(o.attention == "eager"   ? arena::AttentionKernel::kEager
                              : o.attention == "fused" ? arena::AttentionKernel::kFused
                              : o.attention == "flash" ? arena::AttentionKernel::kFlash
                                                       : arena::AttentionKernel::kAuto);
  arena::set_fused_elementwise(o.fused_elementwise);
  arena::set_geglu_lora_down_fusion(o.geglu_lora_down);
  if (!o.lora_dropout_kernels.empty()) {
    unsigned kernels = 0;
    for (const auto& name : split_list(o.lora_dropout_kernels)) {
      if (name == "down") kernels |= arena::kDropoutDownKernel;
      else if (name == "input-grad") kernels |= arena::kDropoutInputGradKernel;
      else if (name == "weight-grad") kernels |= arena::kDropoutWeightGradKernel;
      else if (name != "none") {
        fmt::print(stderr, "--lora-dropout-kernels: unknown kernel '{}' (down, input-grad, weight-grad, none)\n", name);
        return 2;
      }
    }
    arena::set_dropout_linear_kernels(kernels);
  }
  if (!o.fused_lora_dropout) {
    arena::set_dropout_linear_kernels(0);
    arena::set_cpu_dropout_linear_loops(false);
  }
  const auto dtype = o.dtype == "bf16" ? torch::kBFloat16 : torch::kFloat32;
  const auto config = make_config(o);

  // Build on the device: random init and NF4 quantization run there (the CUDA quantizer on GPU).
  const auto t_build = std::chrono::steady_clock::now();
  arena::GemmaClassifier model(config, torch::TensorOptions().dtype(dtype).device(device));
  arena::QloraOptions q;
  q.quantize = o.quantize;
  q.lora.rank = o.rank;
  q.lora.alpha = 2.0 * static_cast<double>(o.rank);
  q.first_layer = o.first_layer < config.num_hidden_layers ? o.first_layer : 0;
  arena::apply_qlora(*model, q);
  if (o.adapter_dtype == "fp32") arena::trainables_to_fp32(*model);
  model->model->embed_tokens->set_host_resident(o.embedding == "host");
  model->model->set_recompute(o.recompute);
  model->model->set_recompute_layers(o.recompute_layers);
  model->train();
  std::vector<torch::Tensor> trainable;
  int64_t trainable_numel = 0, trainable_bytes = 0;
  for (const auto& p : model->parameters())
    if (p.requires_grad()) {
      trainable.push_back(p);
      trainable_numel += p.numel();
      trainable_bytes += p.numel() * static_cast<int64_t>(p.element_size());
    }
  constexpr double kLr = 1e-4;
  std::optional<arena::GradBucket> bucket;
  std::optional<arena::AdamW> bucket_adamw;
  std::optional<torch::optim::AdamW> torch_adamw;
  std::shared_ptr<arena::ComputeCopies> copies;  // the trainer's compute copies (none in fp32)
  if (o.optimizer == "bucket") {
    bucket.emplace(arena::peft_trainable_parameters(*model));
    // torch's defaults, as torch::optim::AdamW and the Python peers run them (weight decay 0.01)
    bucket_adamw.emplace(bucket->params(), arena::AdamWOptions{0.9, 0.999, 1e-8, 0.01});
    if (o.compute_copies) copies = arena::attach_compute_copies(*model, bucket->named(), bucket->params());
  } else {
    torch_adamw.emplace(trainable, torch::optim::AdamWOptions(kLr));
  }
  // The update, then the gradients zeroed: in place in the bucket, or (torch) freed unless
  // `keep_grads` (a CUDA graph replays into the addresses it was captured with).
  const auto update = [&](bool keep_grads) {
    if (bucket) {
      bucket_adamw->step(bucket->params(), bucket->grads(), kLr);
      bucket->zero_grads();
    } else {
      torch_adamw->step();
      torch_adamw->zero_grad(/*set_to_none=*/!keep_grads);
    }
  };
  synchronize(device);
  const double build_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_build).count();

  const auto long_opts = torch::TensorOptions().dtype(torch::kInt64).device(device);
  std::vector<torch::Tensor> ids, labels;
  for (int64_t a = 0; a < o.accum; ++a) {
    ids.push_back(torch::randint(1, config.vocab_size, {o.batch, o.seq}, long_opts));
    labels.push_back(torch::randint(0, config.num_labels, {o.batch}, long_opts));
  }
  const auto mask = torch::ones({o.batch, o.seq}, long_opts);

  double last_loss = 0;
  // Forward and backward over the micro-batches; returns the last one's loss, on the device.
  const auto forward_backward = [&] {
    torch::Tensor last;
    for (int64_t a = 0; a < o.accum; ++a) {
      auto loss = arena::classification_loss(model->forward(ids[a], mask), labels[a]) / static_cast<double>(o.accum);
      loss.backward();
      if (copies) copies->fold_grads(bucket->grads());
      last = loss.detach() * static_cast<double>(o.accum);
    }
    return last;
  };
  const std::function<void()> step = [&] {
    last_loss = forward_backward().to(torch::kCPU).item<double>();
    update(/*keep_grads=*/false);
  };

  for (int64_t i = 0; i < o.warmup; ++i) step();
  synchronize(device);
  // --cuda-graph: the same step without the host read of the loss, its gradients zeroed in place
  // (they keep their addresses across replays); the timed loop replays it.
  std::function<void()> timed = step;
  torch::Tensor graph_loss;
  if (o.cuda_graph) {
    const std::function<void()> graph_step = [&] {
      graph_loss = forward_backward();
      update(/*keep_grads=*/true);
    };
    try {
      if (copies) copies->mark_stale();  // the captured forward must hold the cast
      timed = arena::bench::capture_cuda_graph(graph_step, 2);
    } catch (const c10::Error& e) {
      fmt::print(stderr, "--cuda-graph: the step could not be captured: {}\n", e.what_without_backtrace());
      return 3;
    } catch (const std::exception& e) {
      fmt::print(stderr, "--cuda-graph: the step could not be captured: {}\n", e.what());
      return 3;
    }
  }
  if (!cuda) cpu_peak->reset_peak();
#ifdef ARENA_WITH_CUDA
  if (cuda) {
    c10::cuda::CUDACachingAllocator::emptyCache();
    c10::cuda::CUDACachingAllocator::resetPeakStats(0);
  }
#endif
  std::vector<double> ms;
  for (int64_t i = 0; i < o.steps; ++i) {
    synchronize(device);
    const auto t0 = std::chrono::steady_clock::now();
    timed();
    synchronize(device);
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  if (graph_loss.defined()) last_loss = graph_loss.to(torch::kCPU).item<double>();
  double peak_alloc_gib = 0, peak_reserved_gib = 0, persistent_gib = 0;
#ifdef ARENA_WITH_CUDA
  if (cuda) {
    const auto stats = c10::cuda::CUDACachingAllocator::getDeviceStats(0);
    const auto agg = static_cast<size_t>(c10::CachingAllocator::StatType::AGGREGATE);
    peak_alloc_gib = static_cast<double>(stats.allocated_bytes[agg].peak) / (1 << 30);
    peak_reserved_gib = static_cast<double>(stats.reserved_bytes[agg].peak) / (1 << 30);
    persistent_gib = static_cast<double>(stats.allocated_bytes[agg].current) / (1 << 30);
  }
#endif
  if (!cuda) {
    peak_alloc_gib = static_cast<double>(cpu_peak->peak()) / (1 << 30);
    persistent_gib = static_cast<double>(cpu_peak->current()) / (1 << 30);
  }

  const double step_ms = median(ms);
  const double tokens = static_cast<double>(o.batch * o.accum * o.seq);
  const auto flops = model_flops(config, o);
  const double tflops = flops.model / (step_ms / 1e3) / 1e12;
  const double mfu = tflops / o.peak_tflops;
  const double hfu = flops.hardware / (step_ms / 1e3) / 1e12 / o.peak_tflops;
  const auto probe = torch::empty({1}, torch::TensorOptions().dtype(dtype).device(device));
  const bool flash = arena::attention_kernel() == arena::AttentionKernel::kFlash && cuda && dtype == torch::kBFloat16;
  const char* core = arena::use_fused_attention(probe, o.seq) ? (flash ? "flash" : "fused")
                     : arena::use_chunked_attention(probe)   ? "chunked"
                                                              : "eager";
  const bool fused_ew = arena::use_fused_elementwise(probe);
  // CUDA: the kernels of the set; CPU: the loops of model/lora/lora_cpu_kernels.h (in bf16 the input
  // gradient without an add stays ATen's) or none.
  const std::string lora_kernels = cuda ? kernel_names(arena::dropout_linear_kernels())
                                   : fused_ew && arena::cpu_dropout_linear_loops() ? "cpu-loops"
                                                                                   : "none";
  fmt::print("arena train step: {} layers, hidden {}, {}x{} tokens x {} accum, {} {}, recompute {}, attention {}, "
             "norm+GeGLU {}, LoRA dropout kernels {}, embedding on {}, LoRA r={} on layers {}..{}\n",
             config.num_hidden_layers, config.hidden_size, o.batch, o.seq, o.accum, device.str(), o.dtype,
             !o.recompute ? "off" : o.recompute_layers < 0 ? "on" : fmt::format("on for {} layers", o.recompute_layers),
             core, fused_ew ? "fused" : "eager",
             lora_kernels, o.embedding, o.rank, q.first_layer,
             config.num_hidden_layers - 1);
  fmt::print("  build {:.1f} s; trainable {} tensors, {} values, {:.1f} MB ({}); last loss {:.4f}\n", build_s,
             trainable.size(), trainable_numel, trainable_bytes / 1e6,
             bucket ? "AdamW on one flat bucket" : "torch::optim::AdamW per tensor", last_loss);
  const bool copied = copies && copies->active();
  fmt::print("  trainable tensors in {}{}\n", c10::toString(trainable.front().scalar_type()),
             copied ? fmt::format(", read through {} copies cast once per update", o.dtype) : "");
  if (o.cuda_graph) fmt::print("  timed: replays of the step captured as one CUDA graph\n");
  fmt::print("  step median {:.1f} ms (min {:.1f}, max {:.1f}, {} steps) = {:.0f} tokens/s\n", step_ms,
             *std::min_element(ms.begin(), ms.end()), *std::max_element(ms.begin(), ms.end()), ms.size(),
             tokens / (step_ms / 1e3));
  fmt::print("  model FLOPs {:.2f} TFLOP/step -> {:.1f} TFLOP/s = {:.1f}% MFU of {:.0f}; with recomputation {:.2f} "
             "TFLOP/step = {:.1f}% HFU\n", flops.model / 1e12, tflops, 100 * mfu, o.peak_tflops, flops.hardware / 1e12,
             100 * hfu);
  if (cuda)
    fmt::print("  peak memory: allocated {:.2f} GiB, reserved {:.2f} GiB (after the steps: {:.2f} GiB allocated)\n",
               peak_alloc_gib, peak_reserved_gib, persistent_gib);
  else
    fmt::print("  peak CPU tensor memory: {:.3f} GiB (after the steps: {:.3f} GiB)\n", peak_alloc_gib, persistent_gib);

  nlohmann::json split_json;
  if (o.profile) {
    const auto s = profile_step(step, device);
    const auto pct = [&](double x) { return s.wall_ms > 0 ? 100.0 * x / s.wall_ms : 0.0; };
    fmt::print("  profiled step {:.1f} ms wall, {} aten:: calls on the host (every nesting level), GPU busy {:.1f} ms "
               "({} kernels, {} not linked to an op):\n",
               s.wall_ms, s.aten_calls, s.gpu_busy_ms, s.kernels, s.unlinked);
    fmt::print("    dequant {:.1f} ms ({:.0f}%), GEMM {:.1f} ms ({:.0f}%), attention {:.1f} ms ({:.0f}%; its GEMMs "
               "{:.1f}), other kernels {:.1f} ms ({:.0f}%), GPU idle {:.1f} ms ({:.0f}%)\n",
               s.dequant_ms, pct(s.dequant_ms), s.gemm_ms, pct(s.gemm_ms), s.attention_ms, pct(s.attention_ms),
               s.attention_gemm_ms, s.other_ms, pct(s.other_ms), s.wall_ms - s.gpu_busy_ms,
               pct(s.wall_ms - s.gpu_busy_ms));
    for (const auto& [name, t] : s.top) fmt::print("    {:8.2f} ms  {}\n", t, name.substr(0, 150));
    fmt::print("  most frequent {}:\n", cuda ? "kernels" : "aten:: ops (every nesting level; inclusive times)");
    for (const auto& f : s.frequent)
      fmt::print("    {:6d} x {:8.2f} ms  {}\n", f.count, f.ms, f.name.substr(0, 150));
    split_json = {{"wall_ms", s.wall_ms},       {"gpu_busy_ms", s.gpu_busy_ms},
                  {"dequant_ms", s.dequant_ms}, {"gemm_ms", s.gemm_ms},
                  {"attention_ms", s.attention_ms}, {"attention_gemm_ms", s.attention_gemm_ms},
                  {"other_ms", s.other_ms},     {"kernels", s.kernels},
                  {"unlinked_kernels", s.unlinked}, {"aten_calls", s.aten_calls}};
    for (const auto& f : s.frequent) split_json["frequent"].push_back({f.name, f.count, f.ms});
  }
  if (o.json) {
    nlohmann::json j = {{"impl", "arena"},
                        {"device", device.str()},
                        {"layers", config.num_hidden_layers},
                        {"hidden", config.hidden_size},
                        {"batch", o.batch},
                        {"accum", o.accum},
                        {"seq", o.seq},
                        {"dtype", o.dtype},
                        {"recompute", o.recompute},
                        {"recompute_layers", o.recompute_layers},
                        {"attention", core},
                        {"fused_elementwise", fused_ew},
                        {"geglu_lora_down", o.geglu_lora_down},
                        {"lora_dropout_kernels", lora_kernels},
                        {"embedding", o.embedding},
                        {"cuda_graph", o.cuda_graph},
                        {"optimizer", o.optimizer},
                        {"adapter_dtype", o.adapter_dtype},
                        {"compute_copies", copied},
                        {"lora_rank", o.rank},
                        {"step_ms", step_ms},
                        {"tokens_per_s", tokens / (step_ms / 1e3)},
                        {"tflops", tflops},
                        {"mfu", mfu},
                        {"hfu", hfu},
                        {"peak_allocated_gib", peak_alloc_gib},
                        {"peak_reserved_gib", peak_reserved_gib},
                        {"trainable_values", trainable_numel},
                        {"trainable_bytes", trainable_bytes}};
    if (o.profile) j["split"] = split_json;
    fmt::print("{}\n", j.dump());
  }
  return 0;
}
