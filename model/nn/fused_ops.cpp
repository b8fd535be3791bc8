#include "model/nn/fused_ops.h"

#include <torch/torch.h>

#include <ATen/Parallel.h>

#include <algorithm>
#include <atomic>
#include <tuple>
#include <type_traits>

#include "common/error.h"
#include "model/nn/cpu_dtype_dispatch.h"
#include "model/nn/cpu_kernels.h"

#ifdef ARENA_WITH_CUDA
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>

#include "model/cuda/cuda_util.h"
#include "model/cuda/fused_kernels.h"
#endif

namespace arena {
namespace {
std::atomic<bool> g_fused{true};
}  // namespace

void set_fused_elementwise(bool on) { g_fused.store(on); }
bool fused_elementwise() { return g_fused.load(); }

namespace {

bool cpu_fused_dtype(torch::ScalarType t) { return t == torch::kBFloat16 || t == torch::kFloat32; }

// Rows per CPU task: about 32K elements each.
int64_t cpu_row_grain(int64_t n) { return std::max<int64_t>(1, 32768 / std::max<int64_t>(n, 1)); }
constexpr int64_t kCpuElementGrain = 32768;

#ifdef ARENA_WITH_CUDA
cuda::OutType storage_type(torch::ScalarType t) { return cuda_storage_type(t, "fused kernels"); }
#endif

// y = RMSNorm(x) with rstd [rows] (fp32) for backward; x and w contiguous, one device and dtype.
torch::Tensor rms_forward(const torch::Tensor& x, const torch::Tensor& w, double eps, torch::Tensor& rstd) {
  const int64_t n = x.size(-1);
  const int64_t rows = x.numel() / n;
  auto y = torch::empty_like(x);
  rstd = torch::empty({rows}, x.options().dtype(torch::kFloat32));
#ifdef ARENA_WITH_CUDA
  if (x.is_cuda()) {
    c10::cuda::CUDAGuard device_guard(x.device());
    cuda::rms_norm_forward(x.data_ptr(), w.data_ptr(), y.data_ptr(), rstd.data_ptr<float>(),
                           storage_type(x.scalar_type()), rows, n, static_cast<float>(eps), current_cuda_stream());
    check_cuda_launch("rms_norm_forward");
    return y;
  }
#endif
  cpu_by_type(x.scalar_type(), [&](auto* tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    const T* xp = x.data_ptr<T>();
    const T* wp = w.data_ptr<T>();
    T* yp = y.data_ptr<T>();
    float* rp = rstd.data_ptr<float>();
    at::parallel_for(0, rows, cpu_row_grain(n), [&](int64_t begin, int64_t end) {
      cpu::rms_norm_forward(xp + begin * n, wp, yp + begin * n, rp + begin, end - begin, n, static_cast<float>(eps));
    });
  });
  return y;
}

torch::Tensor rms_backward(const torch::Tensor& x, const torch::Tensor& w, const torch::Tensor& rstd,
                           const torch::Tensor& dy) {
  const int64_t n = x.size(-1);
  const int64_t rows = x.numel() / n;
  auto dx = torch::empty_like(x);
#ifdef ARENA_WITH_CUDA
  if (x.is_cuda()) {
    c10::cuda::CUDAGuard device_guard(x.device());
    cuda::rms_norm_backward(x.data_ptr(), w.data_ptr(), rstd.data_ptr<float>(), dy.data_ptr(), dx.data_ptr(),
                            storage_type(x.scalar_type()), rows, n, current_cuda_stream());
    check_cuda_launch("rms_norm_backward");
    return dx;
  }
#endif
  cpu_by_type(x.scalar_type(), [&](auto* tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    const T* xp = x.data_ptr<T>();
    const T* wp = w.data_ptr<T>();
    const T* dyp = dy.data_ptr<T>();
    T* dxp = dx.data_ptr<T>();
    const float* rp = rstd.data_ptr<float>();
    at::parallel_for(0, rows, cpu_row_grain(n), [&](int64_t begin, int64_t end) {
      cpu::rms_norm_backward(xp + begin * n, wp, rp + begin, dyp + begin * n, dxp + begin * n, end - begin, n);
    });
  });
  return dx;
}

struct RmsNormFn : public torch::autograd::Function<RmsNormFn> {
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& x_in,
                               const torch::Tensor& w_in, double eps) {
    const auto x = x_in.contiguous();
    const auto w = w_in.contiguous();
    torch::Tensor rstd;
    auto y = rms_forward(x, w, eps, rstd);
    ctx->save_for_backward({x, w, rstd});
    return y;
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grad_out) {
    const auto saved = ctx->get_saved_variables();
    const auto& x = saved[0];
    const auto& w = saved[1];
    const auto& rstd = saved[2];
    const auto dy = grad_out[0].to(x.scalar_type()).contiguous();
    const int64_t n = x.size(-1);
    const int64_t rows = x.numel() / n;
    torch::Tensor dx;
    if (ctx->needs_input_grad(0)) dx = rms_backward(x, w, rstd, dy);
    torch::Tensor dw;
    if (ctx->needs_input_grad(1)) {  // frozen in QLoRA; plain ATen when someone trains the norms
      const auto xh = x.reshape({rows, n}).to(torch::kFloat32) * rstd.unsqueeze(1);
      dw = (dy.reshape({rows, n}).to(torch::kFloat32) * xh).sum(0).to(w.scalar_type());
    }
    return {dx, dw, torch::Tensor()};
  }
};

// gate and up contiguous, on one device, one dtype.
torch::Tensor geglu_kernel(const torch::Tensor& gate, const torch::Tensor& up) {
  auto out = torch::empty_like(gate);
#ifdef ARENA_WITH_CUDA
  if (gate.is_cuda()) {
    c10::cuda::CUDAGuard device_guard(gate.device());
    cuda::geglu_forward(gate.data_ptr(), up.data_ptr(), out.data_ptr(), storage_type(gate.scalar_type()),
                        gate.numel(), current_cuda_stream());
    check_cuda_launch("geglu_forward");
    return out;
  }
#endif
  cpu_by_type(gate.scalar_type(), [&](auto* tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    const T* g = gate.data_ptr<T>();
    const T* u = up.data_ptr<T>();
    T* o = out.data_ptr<T>();
    at::parallel_for(0, gate.numel(), kCpuElementGrain, [&](int64_t begin, int64_t end) {
      cpu::geglu_forward(g + begin, u + begin, o + begin, end - begin);
    });
  });
  return out;
}

// (d_gate, d_up), and on the CPU also the forward value when `value` is asked for (else undefined).
std::tuple<torch::Tensor, torch::Tensor, torch::Tensor> geglu_backward_kernel(const torch::Tensor& gate,
                                                                               const torch::Tensor& up,
                                                                               const torch::Tensor& d_out,
                                                                               bool value) {
  const auto d = d_out.to(gate.scalar_type()).contiguous();
  auto d_gate = torch::empty_like(gate);
  auto d_up = torch::empty_like(up);
#ifdef ARENA_WITH_CUDA
  if (gate.is_cuda()) {
    c10::cuda::CUDAGuard device_guard(gate.device());
    cuda::geglu_backward(gate.data_ptr(), up.data_ptr(), d.data_ptr(), d_gate.data_ptr(), d_up.data_ptr(),
                         storage_type(gate.scalar_type()), gate.numel(), current_cuda_stream());
    check_cuda_launch("geglu_backward");
    return {d_gate, d_up, value ? geglu_kernel(gate, up) : torch::Tensor()};
  }
#endif
  torch::Tensor act = value ? torch::empty_like(gate) : torch::Tensor();
  cpu_by_type(gate.scalar_type(), [&](auto* tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    const T* g = gate.data_ptr<T>();
    const T* u = up.data_ptr<T>();
    const T* dp = d.data_ptr<T>();
    T* dg = d_gate.data_ptr<T>();
    T* du = d_up.data_ptr<T>();
    T* a = value ? act.data_ptr<T>() : nullptr;
    at::parallel_for(0, gate.numel(), kCpuElementGrain, [&](int64_t begin, int64_t end) {
      cpu::geglu_backward(g + begin, u + begin, dp + begin, dg + begin, du + begin, a ? a + begin : nullptr,
                          end - begin);
    });
  });
  return {d_gate, d_up, act};
}

struct GegluFn : public torch::autograd::Function<GegluFn> {
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& gate_in,
                               const torch::Tensor& up_in) {
    const auto gate = gate_in.contiguous();
    const auto up = up_in.contiguous();
    ctx->save_for_backward({gate, up});
    return geglu_kernel(gate, up);
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grad_out) {
    const auto saved = ctx->get_saved_variables();
    auto [d_gate, d_up, unused] = geglu_backward_kernel(saved[0], saved[1], grad_out[0], /*value=*/false);
    return {d_gate, d_up};
  }
};

struct RotaryDims {
  int64_t b, s, h, d, cos_batch;
};

// The CPU loops over the B·S tokens (cpu_kernels.h), about 32K elements per task.
template <bool kForward>
void rotary_cpu(const torch::Tensor& in, const torch::Tensor& cos, const torch::Tensor& sin, torch::Tensor& out,
                const RotaryDims& n) {
  cpu_by_type(in.scalar_type(), [&](auto* tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    const T* ip = in.data_ptr<T>();
    const T* cp = cos.data_ptr<T>();
    const T* sp = sin.data_ptr<T>();
    T* op = out.data_ptr<T>();
    at::parallel_for(0, n.b * n.s, cpu_row_grain(n.h * n.d), [&](int64_t begin, int64_t end) {
      if constexpr (kForward) {
        cpu::rotary_heads_forward(ip, cp, sp, op, n.b, n.s, n.h, n.d, n.cos_batch, begin, end);
      } else {
        cpu::rotary_heads_backward(ip, cp, sp, op, n.b, n.s, n.h, n.d, n.cos_batch, begin, end);
      }
    });
  });
}

// One direction of the rotary + head split (forward: [B, S, H·D] -> [B, H, S, D]; backward the
// reverse) on the input's device: the CUDA kernel or the CPU loops.
template <bool kForward>
void rotary_heads(const torch::Tensor& in, const torch::Tensor& cos, const torch::Tensor& sin, torch::Tensor& out,
                  const RotaryDims& n) {
#ifdef ARENA_WITH_CUDA
  if (in.is_cuda()) {
    c10::cuda::CUDAGuard device_guard(in.device());
    const auto kernel = kForward ? cuda::rotary_heads_forward : cuda::rotary_heads_backward;
    kernel(in.data_ptr(), cos.data_ptr(), sin.data_ptr(), out.data_ptr(), storage_type(in.scalar_type()), n.b, n.s,
           n.h, n.d, n.cos_batch, current_cuda_stream());
    check_cuda_launch(kForward ? "rotary_heads_forward" : "rotary_heads_backward");
    return;
  }
#endif
  rotary_cpu<kForward>(in, cos, sin, out, n);
}

struct RotaryHeadsFn : public torch::autograd::Function<RotaryHeadsFn> {
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& y_in,
                               const torch::Tensor& cos_in, const torch::Tensor& sin_in, int64_t heads) {
    const auto y = y_in.contiguous();
    const auto cos = cos_in.contiguous();
    const auto sin = sin_in.contiguous();
    const RotaryDims n{y.size(0), y.size(1), heads, y.size(2) / heads, cos.size(0)};
    auto out = torch::empty({n.b, n.h, n.s, n.d}, y.options());
    ctx->save_for_backward({cos, sin});
    rotary_heads<true>(y, cos, sin, out, n);
    return out;
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grad_out) {
    const auto saved = ctx->get_saved_variables();
    const auto& cos = saved[0];
    const auto& sin = saved[1];
    const auto dy = grad_out[0].to(cos.scalar_type()).contiguous();  // [B, H, S, D]
    const RotaryDims n{dy.size(0), dy.size(2), dy.size(1), dy.size(3), cos.size(0)};
    auto dx = torch::empty({n.b, n.s, n.h * n.d}, dy.options());
    rotary_heads<false>(dy, cos, sin, dx, n);
    return {dx, torch::Tensor(), torch::Tensor(), torch::Tensor()};
  }
};

}  // namespace

bool use_fused_elementwise(const torch::Tensor& x) {
  if (!g_fused.load()) return false;
  const auto t = x.scalar_type();
  if (x.is_cpu()) return cpu_fused_dtype(t);
#ifdef ARENA_WITH_CUDA
  if (x.is_cuda()) return t == torch::kBFloat16 || t == torch::kFloat32 || t == torch::kFloat16;
#endif
  return false;
}

namespace {
// On the CPU in fp32 or bf16, or on CUDA in a build with its kernels.
bool fused_device(const torch::Tensor& t) {
#ifdef ARENA_WITH_CUDA
  if (t.is_cuda()) return true;
#endif
  return t.is_cpu() && cpu_fused_dtype(t.scalar_type());
}
}  // namespace

torch::Tensor rms_norm_fused(const torch::Tensor& x, const torch::Tensor& weight, double eps) {
  check(fused_device(x) && weight.device() == x.device(),
        "rms_norm_fused: x ({}, {}) and weight ({}) must be on one device with fused kernels for the dtype",
        x.device().str(), c10::toString(x.scalar_type()), weight.device().str());
  check(weight.dim() == 1 && x.size(-1) == weight.size(0) && weight.scalar_type() == x.scalar_type(),
        "rms_norm_fused: weight [{}] {} does not match x [{}] {}", fmt::join(weight.sizes(), ", "),
        c10::toString(weight.scalar_type()), fmt::join(x.sizes(), ", "), c10::toString(x.scalar_type()));
  return RmsNormFn::apply(x, weight, eps);
}

torch::Tensor geglu_fused(const torch::Tensor& gate, const torch::Tensor& up) {
  check(fused_device(gate) && up.device() == gate.device() && gate.sizes() == up.sizes() &&
            gate.scalar_type() == up.scalar_type(),
        "geglu_fused: gate [{}] and up [{}] must be tensors of one shape, dtype and device with fused kernels",
        fmt::join(gate.sizes(), ", "), fmt::join(up.sizes(), ", "));
  return GegluFn::apply(gate, up);
}

torch::Tensor rotary_heads_fused(const torch::Tensor& y, const torch::Tensor& cos, const torch::Tensor& sin,
                                 int64_t heads) {
  check(fused_device(y) && y.dim() == 3 && heads > 0 && y.size(2) % heads == 0 && (y.size(2) / heads) % 2 == 0,
        "rotary_heads_fused: y [{}] {} must be a [B, S, H·D] tensor with {} heads of even size, on a device with "
        "fused kernels for its dtype",
        fmt::join(y.sizes(), ", "), c10::toString(y.scalar_type()), heads);
  const int64_t d = y.size(2) / heads;
  const bool shapes_fit = cos.sizes() == sin.sizes() && cos.dim() == 3 &&
                          (cos.size(0) == 1 || cos.size(0) == y.size(0)) && cos.size(1) == y.size(1) &&
                          cos.size(2) == d;
  const bool same_place = cos.device() == y.device() && sin.device() == y.device() &&
                          cos.scalar_type() == y.scalar_type() && sin.scalar_type() == y.scalar_type();
  check(shapes_fit && same_place,
        "rotary_heads_fused: tables [{}] {} do not fit y [{}] {} with head_dim {}", fmt::join(cos.sizes(), ", "),
        c10::toString(cos.scalar_type()), fmt::join(y.sizes(), ", "), c10::toString(y.scalar_type()), d);
  return RotaryHeadsFn::apply(y, cos, sin, heads);
}

torch::Tensor geglu_value(const torch::Tensor& gate, const torch::Tensor& up) {
  if (use_fused_elementwise(gate)) return geglu_kernel(gate.contiguous(), up.contiguous());
  return torch::gelu(gate, "tanh") * up;
}

std::pair<torch::Tensor, torch::Tensor> geglu_grads(const torch::Tensor& gate, const torch::Tensor& up,
                                                    const torch::Tensor& d_out) {
  if (use_fused_elementwise(gate)) {
    auto [d_gate, d_up, unused] = geglu_backward_kernel(gate.contiguous(), up.contiguous(), d_out, /*value=*/false);
    return {d_gate, d_up};
  }
  // What autograd runs for gelu(gate)·up: the product's two input gradients, then gelu's backward.
  const auto d_gate = at::gelu_backward(d_out * up, gate, "tanh");
  const auto d_up = d_out * torch::gelu(gate, "tanh");
  return {d_gate, d_up};
}

std::tuple<torch::Tensor, torch::Tensor, torch::Tensor> geglu_grads_and_value(const torch::Tensor& gate,
                                                                              const torch::Tensor& up,
                                                                              const torch::Tensor& d_out) {
  if (gate.is_cpu() && use_fused_elementwise(gate))
    return geglu_backward_kernel(gate.contiguous(), up.contiguous(), d_out, /*value=*/true);
  auto [d_gate, d_up] = geglu_grads(gate, up, d_out);
  return {d_gate, d_up, geglu_value(gate, up)};
}

}  // namespace arena
