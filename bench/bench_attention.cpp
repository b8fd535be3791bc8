// The attention core alone at the Gemma-2-2B shape: forward and forward+backward of the fused
// soft-capped core (model/nn/softcap_attention.h) and the flash kernels (bf16) on CUDA, or the
// chunked core (model/nn/chunked_attention.h) on the CPU, and of the eager chain
// (eager_softcap_attention), on random q/k/v with the causal, sliding-window bias the model uses
// (attention_bias). Reports the median time of each, the rate in model TFLOP/s (causal: half the
// square; backward twice the forward) and the peak tensor memory a forward+backward and a forward
// alone add (CUDA: the caching allocator's count; CPU: bench/cpu_peak_allocator.h). One JSON line
// per variant with --json.
#include <torch/torch.h>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <string>

#ifdef ARENA_WITH_CUDA
#include <c10/cuda/CUDACachingAllocator.h>
#endif

#include "bench/cpu_peak_allocator.h"
#include "bench/median_time.h"
#include "model/nn/attention_mask.h"
#include "model/nn/chunked_attention.h"
#include "model/nn/softcap_attention.h"

namespace {

struct Options {
  int64_t batch = 4, seq = 1900, heads = 8, kv_heads = 4, head_dim = 256, window = 4096;
  double cap = 50.0;
  int reps = 10, threads = 2;
  std::string dtype = "bf16", device = "auto";
  bool json = false;
};

void synchronize(const torch::Device& device) {
  if (device.is_cuda()) torch::cuda::synchronize();
}

// Bytes the caching allocator holds at its peak during fn, above what was allocated before.
template <typename F>
double peak_added_gib(const torch::Device& device, F&& fn) {
#ifdef ARENA_WITH_CUDA
  if (device.is_cuda()) {
    namespace alloc = c10::cuda::CUDACachingAllocator;
    const auto index = device.index() < 0 ? 0 : device.index();
    synchronize(device);
    const auto before = alloc::getDeviceStats(index).allocated_bytes[0].current;
    alloc::resetPeakStats(index);
    fn();
    synchronize(device);
    const auto peak = alloc::getDeviceStats(index).allocated_bytes[0].peak;
    return static_cast<double>(peak - before) / (1 << 30);
  }
#endif
  auto& cpu = arena::bench::CpuPeakAllocator::install();
  const auto before = cpu.current();
  cpu.reset_peak();
  fn();
  return static_cast<double>(cpu.peak() - before) / (1 << 30);
}

// kernel: kFused, the device's own core (CUDA: fused kernels; CPU: chunked); kFlash, CUDA's flash
// kernels; kEager, the eager chain.
void run(const Options& o, const torch::Device& device, arena::AttentionKernel kernel) {
  const bool fused = kernel != arena::AttentionKernel::kEager;
  const auto type = o.dtype == "f32" ? torch::kFloat32 : torch::kBFloat16;
  const auto opts = torch::TensorOptions().device(device).dtype(type);
  torch::manual_seed(0);
  const auto q = torch::randn({o.batch, o.heads, o.seq, o.head_dim}, opts).requires_grad_(true);
  const auto k = torch::randn({o.batch, o.kv_heads, o.seq, o.head_dim}, opts).requires_grad_(true);
  const auto v = torch::randn({o.batch, o.kv_heads, o.seq, o.head_dim}, opts).requires_grad_(true);
  const auto mask = torch::ones({o.batch, o.seq}, opts.dtype(torch::kInt64));
  const int64_t window = o.window < o.seq ? o.window : 0;
  const auto bias = arena::attention_bias(mask, window, type);
  const auto grad = torch::randn({o.batch, o.seq, o.heads, o.head_dim}, opts);
  const double scale = 1.0 / std::sqrt(static_cast<double>(o.head_dim));
  arena::set_attention_kernel(kernel);
  const auto core = [&] {
    if (!fused) return arena::eager_softcap_attention(q, k, v, bias, scale, o.cap);
    return device.is_cuda() ? arena::softcap_attention(q, k, v, bias, scale, o.cap)
                            : arena::chunked_softcap_attention(q, k, v, bias, scale, o.cap, window);
  };
  const double forward_ms = arena::bench::median_ms(1, o.reps, device.is_cuda(), [&] {
    torch::NoGradGuard no_grad;
    core();
  });
  const auto step = [&] {
    core().backward(grad);
    q.mutable_grad() = torch::Tensor();
    k.mutable_grad() = torch::Tensor();
    v.mutable_grad() = torch::Tensor();
  };
  const double step_ms = arena::bench::median_ms(1, o.reps, device.is_cuda(), step);
  const double peak_gib = peak_added_gib(device, step);
  const double forward_peak_gib = peak_added_gib(device, [&] {
    torch::NoGradGuard no_grad;
    core();
  });
  // Model FLOPs: q·kᵀ and p·v, 2·B·H·S²·D each over the causal half; backward twice the forward.
  const double fwd_flop = 2.0 * o.batch * o.heads * static_cast<double>(o.seq) * o.seq * o.head_dim;
  const std::string name = !fused                                  ? "eager"
                           : kernel == arena::AttentionKernel::kFlash ? "flash"
                           : device.is_cuda()                         ? "fused"
                                                                      : "chunked";
  const double forward_tflops = fwd_flop / forward_ms / 1e9, step_tflops = 3 * fwd_flop / step_ms / 1e9;
  fmt::print("{:<7} {} B={} S={} H={}/{} D={}: forward {:.2f} ms ({:.3g} TFLOP/s), forward+backward {:.2f} ms "
             "({:.3g} TFLOP/s), peak added {:.2f} GiB (forward alone {:.2f} GiB)\n",
             name, device.str(), o.batch, o.seq, o.heads, o.kv_heads, o.head_dim, forward_ms, forward_tflops, step_ms,
             step_tflops, peak_gib, forward_peak_gib);
  if (o.json) {
    nlohmann::json j = {{"bench", "attention"},   {"core", name},        {"device", device.str()},
                        {"dtype", o.dtype},       {"batch", o.batch},    {"seq", o.seq},
                        {"heads", o.heads},       {"kv_heads", o.kv_heads}, {"head_dim", o.head_dim},
                        {"forward_ms", forward_ms}, {"step_ms", step_ms}, {"forward_tflops", forward_tflops},
                        {"step_tflops", step_tflops}, {"peak_added_gib", peak_gib},
                        {"forward_peak_added_gib", forward_peak_gib}};
    fmt::print("{}\n", j.dump());
  }
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  CLI::App app{"Gemma attention core: fused and flash (CUDA) or chunked (CPU) against eager, forward and "
               "forward+backward"};
  app.add_option("--batch", o.batch, "Sequences per call");
  app.add_option("--seq", o.seq, "Sequence length");
  app.add_option("--heads", o.heads, "Query heads");
  app.add_option("--kv-heads", o.kv_heads, "Key/value heads");
  app.add_option("--head-dim", o.head_dim, "Head dimension");
  app.add_option("--window", o.window, "Sliding window (0: none; a window >= seq masks nothing)");
  app.add_option("--cap", o.cap, "Attention logit soft-cap (0: none)");
  app.add_option("--reps", o.reps, "Timed repetitions (median)");
  app.add_option("--dtype", o.dtype, "bf16 or f32")->check(CLI::IsMember({"bf16", "f32"}));
  app.add_option("--device", o.device, "auto (CUDA when present), cuda or cpu")
      ->check(CLI::IsMember({"auto", "cuda", "cpu"}));
  app.add_option("--threads", o.threads, "CPU threads");
  app.add_flag("--json", o.json, "Also print one JSON line per variant");
  CLI11_PARSE(app, argc, argv);
  torch::set_num_threads(o.threads);
  const bool cuda = o.device == "cuda" || (o.device == "auto" && torch::cuda::is_available());
  const torch::Device device = cuda ? torch::Device(torch::kCUDA, 0) : torch::Device(torch::kCPU);
  run(o, device, arena::AttentionKernel::kFused);
  // The flash kernels (bf16 on CUDA).
  if (cuda && o.dtype == "bf16") run(o, device, arena::AttentionKernel::kFlash);
  run(o, device, arena::AttentionKernel::kEager);
  return 0;
}
