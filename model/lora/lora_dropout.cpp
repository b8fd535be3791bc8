#include "model/lora/lora_dropout.h"

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/OpMathType.h>
#include <ATen/Parallel.h>
#include <torch/torch.h>

#include <algorithm>
#include <atomic>
#include <cmath>
#include <mutex>
#include <type_traits>

#include "common/error.h"
#include "model/cuda/dropout_hash.h"
#include "model/lora/lora_cpu_kernels.h"
#include "model/nn/cpu_dtype_dispatch.h"
#include "model/nn/cpu_kernels.h"
#include "model/nn/fused_ops.h"

#ifdef ARENA_WITH_CUDA
#include <c10/cuda/CUDAGuard.h>

#include "model/cuda/cuda_util.h"
#include "model/cuda/fused_kernels.h"
#include "model/cuda/lora_kernels.h"
#endif

namespace arena {
namespace {

// Default: the input-gradient kernel only. On the H100 (batch 4 × 1900, docs/benchmarks.md) it
// saves about 6 ms of the step, while the tensor-core forward and weight-gradient kernels cost
// about 15 and 4 ms more than the dropout pass plus cuBLAS they replace.
std::atomic<unsigned> g_dropout_linear_kernels{kDropoutInputGradKernel};
std::atomic<bool> g_cpu_loops{true};

#ifdef ARENA_WITH_CUDA
// Whether the LoRA kernel `kernel` (model/cuda/lora_kernels.h) runs for tensor t with its partner
// `other` (same dtype and device) at rank r.
bool fused_lora_kernels(unsigned kernel, const torch::Tensor& t, const torch::Tensor& other, int64_t r, double p) {
  const bool half = t.scalar_type() == torch::kBFloat16 || t.scalar_type() == torch::kHalf;
  return (g_dropout_linear_kernels.load() & kernel) != 0 && t.is_cuda() && use_fused_elementwise(t) && half &&
         p > 0 && p < 1 && other.scalar_type() == t.scalar_type() && other.device() == t.device() && r >= 1 &&
         r <= cuda::kDropoutDownMaxRank;
}
#endif

uint32_t drop_threshold(double p) { return static_cast<uint32_t>(std::llround(p * static_cast<double>(1u << 24))); }

// Whether the CPU loops (model/lora/lora_cpu_kernels.h) run for t with its partner `other`: fp32 or
// bf16 on the CPU, one dtype, 0 < p < 1, the loops' switch on and the fused element-wise ops on
// (both are the CPU default; either switch off gives ATen's chain). The kernel bits above are for
// CUDA only.
bool cpu_lora_loops(const torch::Tensor& t, const torch::Tensor& other, double p) {
  const bool type = t.scalar_type() == torch::kFloat32 || t.scalar_type() == torch::kBFloat16;
  return t.device().is_cpu() && other.device().is_cpu() && type && other.scalar_type() == t.scalar_type() && p > 0 &&
         p < 1 && g_cpu_loops.load() && use_fused_elementwise(t);
}

cpu::DropoutMask cpu_mask(uint64_t seed, double p) {
  return {seed, drop_threshold(p), static_cast<float>(1.0 / (1.0 - p))};
}

// Rows per task for the CPU loops: each row costs about in·r multiply-adds.
int64_t cpu_row_grain(int64_t in, int64_t r) { return std::max<int64_t>(1, 65536 / std::max<int64_t>(1, in * r)); }

// gᵀ·drop(x) [r, in] through the CPU loops. The rows are cut into at most kWeightGradParts runs of
// one length that depends on the row count only, each summed into its own fp32 partial, then the
// partials in order: the same bits for any number of threads.
torch::Tensor cpu_weight_grad(const torch::Tensor& g, const torch::Tensor& x, uint64_t seed, double p) {
  constexpr int64_t kWeightGradParts = 16, kMinRowsPerPart = 256;
  const auto gc = g.contiguous();
  const auto xc = x.contiguous();
  const int64_t in = x.size(-1), r = g.size(-1), rows = xc.numel() / in;
  check(gc.numel() / r == rows, "LoRA weight gradient: g has {} rows, x has {}", gc.numel() / r, rows);
  const int64_t per_part = std::max(kMinRowsPerPart, (rows + kWeightGradParts - 1) / kWeightGradParts);
  const int64_t parts = std::max<int64_t>(1, (rows + per_part - 1) / per_part);
  auto partial = torch::zeros({parts, r, in}, x.options().dtype(torch::kFloat32));
  cpu_by_type(x.scalar_type(), [&](auto* tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    at::parallel_for(0, parts, 1, [&](int64_t begin, int64_t end) {
      for (int64_t part = begin; part < end; ++part)
        cpu::lora_dropout_weight_grad(gc.data_ptr<T>(), xc.data_ptr<T>(), partial[part].data_ptr<float>(),
                                      part * per_part, std::min(rows, (part + 1) * per_part), in, r,
                                      cpu_mask(seed, p));
    });
  });
  auto sum = partial[0];
  for (int64_t part = 1; part < parts; ++part) sum = sum + partial[part];
  return sum.to(x.scalar_type());
}

struct LoraDown : public torch::autograd::Function<LoraDown> {
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& x, const torch::Tensor& a,
                               double p) {
    const uint64_t seed = draw_dropout_seed();
    ctx->saved_data["seed"] = static_cast<int64_t>(seed);
    ctx->saved_data["p"] = p;
    ctx->save_for_backward({x, a});
    return dropout_linear(x, a, seed, p);
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grad_out) {
    const auto saved = ctx->get_saved_variables();
    const auto& x = saved[0];
    const auto& a = saved[1];
    const auto seed = static_cast<uint64_t>(ctx->saved_data["seed"].toInt());
    const double p = ctx->saved_data["p"].toDouble();
    const auto g = grad_out[0];
    torch::Tensor dx, da;
    if (ctx->needs_input_grad(0)) dx = dropout_linear_input_grad(g, a, seed, p, torch::Tensor());
    if (ctx->needs_input_grad(1)) da = dropout_linear_weight_grad(g, x, torch::Tensor(), seed, p);
    return {dx, da, torch::Tensor()};
  }
};

}  // namespace

uint64_t draw_dropout_seed() {
  auto gen = at::detail::getDefaultCPUGenerator();
  std::lock_guard<std::mutex> lock(gen.mutex());
  return at::check_generator<at::CPUGeneratorImpl>(gen)->random64();
}

torch::Tensor seeded_dropout(const torch::Tensor& x_in, uint64_t seed, double p) {
  check(p >= 0 && p < 1, "dropout probability must be in [0, 1), got {}", p);
  const auto x = x_in.contiguous();
  auto y = torch::empty_like(x);
  const uint32_t threshold = drop_threshold(p);
  const auto scale = static_cast<float>(1.0 / (1.0 - p));
  const int64_t n = x.numel();
#ifdef ARENA_WITH_CUDA
  if (x.is_cuda()) {
    c10::cuda::CUDAGuard device_guard(x.device());
    cuda::seeded_dropout(x.data_ptr(), y.data_ptr(), cuda_storage_type(x.scalar_type(), "seeded dropout"), n, seed,
                         threshold, scale, current_cuda_stream());
    check_cuda_launch("seeded_dropout");
    return y;
  }
#endif
  check(x.device().is_cpu(), "seeded dropout: unsupported device {}", x.device().str());
  if (x.scalar_type() == torch::kFloat32 || x.scalar_type() == torch::kBFloat16) {
    // The vectorized loop (model/nn/cpu_kernels.h): fp32 arithmetic, one rounding.
    cpu_by_type(x.scalar_type(), [&](auto* tag) {
      using T = std::remove_pointer_t<decltype(tag)>;
      const T* in = x.data_ptr<T>();
      T* out = y.data_ptr<T>();
      at::parallel_for(0, n, 32768, [&](int64_t begin, int64_t end) {
        cpu::seeded_dropout(in + begin, out + begin, static_cast<uint64_t>(begin), end - begin, seed, threshold,
                            scale);
      });
    });
    return y;
  }
  AT_DISPATCH_FLOATING_TYPES_AND(torch::kHalf, x.scalar_type(), "seeded_dropout", [&] {
    // fp16: fp32 arithmetic (as on CUDA); fp64: fp64; one rounding. Element by element (tests only).
    using acc_t = at::opmath_type<scalar_t>;
    const auto s = std::is_same_v<acc_t, float> ? static_cast<acc_t>(scale) : static_cast<acc_t>(1.0 / (1.0 - p));
    const scalar_t* in = x.data_ptr<scalar_t>();
    scalar_t* out = y.data_ptr<scalar_t>();
    at::parallel_for(0, n, 32768, [&](int64_t begin, int64_t end) {
      for (int64_t i = begin; i < end; ++i) {
        const bool keep = dropout_keep(seed, static_cast<uint64_t>(i), threshold);
        out[i] = static_cast<scalar_t>(keep ? static_cast<acc_t>(in[i]) * s : acc_t(0));
      }
    });
  });
  return y;
}

torch::Tensor dropout_linear(const torch::Tensor& x, const torch::Tensor& a, uint64_t seed, double p) {
#ifdef ARENA_WITH_CUDA
  if (a.dim() == 2 && fused_lora_kernels(kDropoutDownKernel, x, a, a.size(0), p) && a.size(1) == x.size(-1) &&
      x.size(-1) > 0) {
    const auto xc = x.contiguous();
    const auto ac = a.contiguous();
    auto shape = x.sizes().vec();
    shape.back() = a.size(0);
    auto out = torch::empty(shape, x.options());
    c10::cuda::CUDAGuard device_guard(x.device());
    const auto scale = static_cast<float>(1.0 / (1.0 - p));
    cuda::dropout_down(xc.data_ptr(), ac.data_ptr(), out.data_ptr(), cuda_storage_type(x.scalar_type(), "dropout_down"),
                       xc.numel() / xc.size(-1), xc.size(-1), a.size(0), seed, drop_threshold(p), scale,
                       current_cuda_stream());
    check_cuda_launch("dropout_down");
    return out;
  }
#endif
  if (a.dim() == 2 && cpu_lora_loops(x, a, p) && a.size(1) == x.size(-1) && x.size(-1) > 0) {
    const auto xc = x.contiguous();
    const auto a32 = a.to(torch::kFloat32).contiguous();
    const int64_t in = x.size(-1), r = a.size(0), rows = xc.numel() / in;
    auto shape = x.sizes().vec();
    shape.back() = r;
    auto out = torch::empty(shape, x.options());
    cpu_by_type(x.scalar_type(), [&](auto* tag) {
      using T = std::remove_pointer_t<decltype(tag)>;
      at::parallel_for(0, rows, cpu_row_grain(in, r), [&](int64_t begin, int64_t end) {
        cpu::lora_dropout_down(xc.data_ptr<T>(), a32.data_ptr<float>(), out.data_ptr<T>(), begin, end, in, r,
                               cpu_mask(seed, p));
      });
    });
    return out;
  }
  return torch::linear(p > 0 ? seeded_dropout(x, seed, p) : x, a);
}

torch::Tensor dropout_linear_input_grad(const torch::Tensor& g, const torch::Tensor& a, uint64_t seed, double p,
                                        const torch::Tensor& add) {
#ifdef ARENA_WITH_CUDA
  if (a.dim() == 2 && fused_lora_kernels(kDropoutInputGradKernel, g, a, a.size(0), p) && g.size(-1) == a.size(0) &&
      (!add.defined() || (add.scalar_type() == g.scalar_type() && add.device() == g.device()))) {
    const auto gc = g.contiguous();
    const auto ac = a.contiguous();
    auto shape = g.sizes().vec();
    shape.back() = a.size(1);
    const auto addc = add.defined() ? add.expand(shape).contiguous() : add;
    auto dx = torch::empty(shape, g.options());
    c10::cuda::CUDAGuard device_guard(g.device());
    cuda::dropout_down_input_grad(gc.data_ptr(), ac.data_ptr(), addc.defined() ? addc.data_ptr() : nullptr,
                                  dx.data_ptr(), cuda_storage_type(g.scalar_type(), "dropout_down_input_grad"),
                                  gc.numel() / gc.size(-1), a.size(1), a.size(0), seed, drop_threshold(p),
                                  static_cast<float>(1.0 / (1.0 - p)), current_cuda_stream());
    check_cuda_launch("dropout_down_input_grad");
    return dx;
  }
#endif
  // In bf16 without an add, oneDNN's GEMM (AMX where the CPU has it) and the dropout pass measured
  // faster than the loop (bench_lora_dropout: 1.67 against 2.05 ms at 4096 × 640, r = 8), whose
  // three bf16 roundings per element cost more than the pass it saves.
  const bool loop_pays = add.defined() || g.scalar_type() == torch::kFloat32;
  if (a.dim() == 2 && cpu_lora_loops(g, a, p) && loop_pays && g.size(-1) == a.size(0) && a.size(1) > 0 &&
      (!add.defined() || (add.scalar_type() == g.scalar_type() && add.device().is_cpu()))) {
    const auto gc = g.contiguous();
    const auto a32 = a.to(torch::kFloat32).contiguous();
    const int64_t in = a.size(1), r = a.size(0), rows = gc.numel() / r;
    auto shape = g.sizes().vec();
    shape.back() = in;
    const auto addc = add.defined() ? add.expand(shape).contiguous() : add;
    auto dx = torch::empty(shape, g.options());
    cpu_by_type(g.scalar_type(), [&](auto* tag) {
      using T = std::remove_pointer_t<decltype(tag)>;
      at::parallel_for(0, rows, cpu_row_grain(in, r), [&](int64_t begin, int64_t end) {
        cpu::lora_dropout_input_grad(gc.data_ptr<T>(), a32.data_ptr<float>(),
                                     addc.defined() ? addc.data_ptr<T>() : nullptr, dx.data_ptr<T>(), begin, end, in,
                                     r, cpu_mask(seed, p));
      });
    });
    return dx;
  }
  auto dx = torch::matmul(g, a);
  if (p > 0) dx = seeded_dropout(dx, seed, p);
  return add.defined() ? dx.add_(add) : dx;
}

torch::Tensor dropout_linear_weight_grad(const torch::Tensor& g, const torch::Tensor& x, const torch::Tensor& up,
                                         uint64_t seed, double p) {
  const int64_t r = g.size(-1), in = x.size(-1);
#ifdef ARENA_WITH_CUDA
  const int64_t rows = in > 0 ? x.numel() / in : 0;
  constexpr unsigned kKernel = kDropoutWeightGradKernel;
  if (fused_lora_kernels(kKernel, x, g, r, p) &&
      (!up.defined() || (up.sizes() == x.sizes() && fused_lora_kernels(kKernel, x, up, r, p))) &&
      g.numel() / r == rows && cuda::dropout_weight_grad_splits(rows) <= 65535) {  // splits are gridDim.y
    const auto gc = g.contiguous();
    const auto xc = x.contiguous();
    const auto upc = up.defined() ? up.contiguous() : up;
    auto partial = torch::empty({cuda::dropout_weight_grad_splits(rows), r, in}, x.options().dtype(torch::kFloat32));
    auto da = torch::empty({r, in}, x.options());
    c10::cuda::CUDAGuard device_guard(x.device());
    cuda::dropout_weight_grad(gc.data_ptr(), xc.data_ptr(), upc.defined() ? upc.data_ptr() : nullptr,
                              partial.data_ptr<float>(), da.data_ptr(),
                              cuda_storage_type(x.scalar_type(), "dropout_weight_grad"), rows, in, r, seed,
                              drop_threshold(p), static_cast<float>(1.0 / (1.0 - p)), current_cuda_stream());
    check_cuda_launch("dropout_weight_grad");
    return da;
  }
#endif
  const auto value = up.defined() ? geglu_value(x, up) : x;
  if (cpu_lora_loops(value, g, p) && in > 0 && r > 0) return cpu_weight_grad(g, value, seed, p);
  const auto h = p > 0 ? seeded_dropout(value, seed, p) : value;
  return torch::matmul(g.reshape({-1, r}).t(), h.reshape({-1, in}));
}

void set_dropout_linear_kernels(unsigned kernels) {
  g_dropout_linear_kernels.store(kernels & kAllDropoutLinearKernels);
}
unsigned dropout_linear_kernels() { return g_dropout_linear_kernels.load(); }

void set_cpu_dropout_linear_loops(bool on) { g_cpu_loops.store(on); }
bool cpu_dropout_linear_loops() { return g_cpu_loops.load(); }

torch::Tensor lora_down(const torch::Tensor& x, const torch::Tensor& a, double p, bool training) {
  if (p <= 0 || !training) return torch::linear(x, a);
  return LoraDown::apply(x, a, p);
}

}  // namespace arena
