// Fused RMSNorm and GeGLU (model/nn/fused_ops.h) against the eager formulas in float64, values and
// gradients, in fp32 and bf16; the fused rotary + head split bit for bit against the eager
// chain. Needs a GPU: label `gpu` (CI skips it).
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "model/nn/fused_ops.h"
#include "model/nn/rotary.h"

namespace arena {
namespace {

double rel(const torch::Tensor& a, const torch::Tensor& ref) {
  const auto d = a.to(torch::kFloat64) - ref.to(torch::kFloat64);
  return (d.norm() / ref.to(torch::kFloat64).norm()).item<double>();
}

torch::Tensor rms_eager(const torch::Tensor& x, const torch::Tensor& w, double eps) {  // rms_norm.cpp's math
  const auto xf = x.to(torch::kFloat32);
  auto y = xf * torch::rsqrt(xf.pow(2).mean(-1, true) + eps);
  return (y * (1.0 + w.to(torch::kFloat32))).to(x.scalar_type());
}

torch::Tensor rms_f64(const torch::Tensor& x, const torch::Tensor& w, double eps) {
  return x * torch::rsqrt(x.pow(2).mean(-1, true) + eps) * (1.0 + w);
}

struct Grads {
  torch::Tensor y, dx, dw;
};

template <typename F>
Grads rms_run(F&& f, const torch::Tensor& x0, const torch::Tensor& w0, const torch::Tensor& dy) {
  auto x = x0.detach().clone().requires_grad_(true);
  auto w = w0.detach().clone().requires_grad_(true);
  const auto y = f(x, w);
  y.backward(dy.to(y.scalar_type()));
  return {y.detach(), x.grad(), w.grad()};
}

TEST(FusedOpsCuda, RmsNormMatchesFloat64) {
  ASSERT_TRUE(torch::cuda::is_available());
  torch::manual_seed(0);
  const auto opts = torch::TensorOptions().device(torch::kCUDA);
  for (const int64_t n : {2304, 256, 100}) {
    const auto x = torch::randn({3, 37, n}, opts) * 3.0;
    const auto w = torch::randn({n}, opts) * 0.5;
    const auto dy = torch::randn({3, 37, n}, opts);
    const double eps = 1e-6;
    const auto ref = rms_run([&](auto& a, auto& b) { return rms_f64(a, b, eps); }, x.to(torch::kFloat64),
                             w.to(torch::kFloat64), dy.to(torch::kFloat64));
    const auto f32 = rms_run([&](auto& a, auto& b) { return rms_norm_fused(a, b, eps); }, x, w, dy);
    EXPECT_LT(rel(f32.y, ref.y), 1e-6) << n;
    EXPECT_LT(rel(f32.dx, ref.dx), 1e-5) << n;
    EXPECT_LT(rel(f32.dw, ref.dw), 1e-5) << n;
    // bf16: within bf16 rounding, and no worse than the eager bf16 chain.
    const auto xb = x.to(torch::kBFloat16), wb = w.to(torch::kBFloat16), dyb = dy.to(torch::kBFloat16);
    const auto refb = rms_run([&](auto& a, auto& b) { return rms_f64(a, b, eps); }, xb.to(torch::kFloat64),
                              wb.to(torch::kFloat64), dyb.to(torch::kFloat64));
    const auto fb = rms_run([&](auto& a, auto& b) { return rms_norm_fused(a, b, eps); }, xb, wb, dyb);
    const auto eb = rms_run([&](auto& a, auto& b) { return rms_eager(a, b, eps); }, xb, wb, dyb);
    EXPECT_LT(rel(fb.y, refb.y), 1.5 * rel(eb.y, refb.y) + 1e-3) << n;
    EXPECT_LT(rel(fb.dx, refb.dx), 1.5 * rel(eb.dx, refb.dx) + 1e-3) << n;
    EXPECT_LT(rel(fb.y, refb.y), 1e-2) << n;
  }
}

TEST(FusedOpsCuda, GegluMatchesFloat64) {
  ASSERT_TRUE(torch::cuda::is_available());
  torch::manual_seed(1);
  const auto opts = torch::TensorOptions().device(torch::kCUDA);
  const auto run = [](bool fused, const torch::Tensor& g0, const torch::Tensor& u0, const torch::Tensor& d) {
    auto g = g0.detach().clone().requires_grad_(true);
    auto u = u0.detach().clone().requires_grad_(true);
    const auto out = fused ? geglu_fused(g, u) : torch::gelu(g, "tanh") * u;
    out.backward(d.to(out.scalar_type()));
    return std::vector<torch::Tensor>{out.detach(), g.grad(), u.grad()};
  };
  for (const int64_t n : {1000003, 4096}) {  // odd size: the grid-stride tail
    const auto g = torch::randn({n}, opts) * 2.0;
    const auto u = torch::randn({n}, opts);
    const auto d = torch::randn({n}, opts);
    const auto ref = run(false, g.to(torch::kFloat64), u.to(torch::kFloat64), d.to(torch::kFloat64));
    const auto got = run(true, g, u, d);
    for (int i = 0; i < 3; ++i) EXPECT_LT(rel(got[i], ref[i]), 1e-5) << "n=" << n << " output " << i;
    const auto gb = g.to(torch::kBFloat16), ub = u.to(torch::kBFloat16), db = d.to(torch::kBFloat16);
    const auto refb = run(false, gb.to(torch::kFloat64), ub.to(torch::kFloat64), db.to(torch::kFloat64));
    const auto fb = run(true, gb, ub, db);
    const auto eb = run(false, gb, ub, db);
    for (int i = 0; i < 3; ++i) {
      EXPECT_LT(rel(fb[i], refb[i]), 1.5 * rel(eb[i], refb[i]) + 1e-3) << "n=" << n << " output " << i;
      EXPECT_LT(rel(fb[i], refb[i]), 1e-2) << "n=" << n << " output " << i;
    }
  }
}

// rotary_heads_fused mirrors every rounding of apply_rotary on the transposed view, so values and
// input gradients are equal, not just close, in fp32, bf16 and fp16, with shared (B = 1) and
// per-row position tables.
TEST(FusedOpsCuda, RotaryHeadsIsBitIdenticalToTheEagerChain) {
  ASSERT_TRUE(torch::cuda::is_available());
  torch::manual_seed(9);
  const int64_t b = 2, s = 37, h = 4, d = 64;
  for (const auto dtype : {torch::kFloat32, torch::kBFloat16, torch::kFloat16}) {
    const auto opts = torch::TensorOptions().device(torch::kCUDA).dtype(dtype);
    for (const bool per_row : {false, true}) {
      const auto positions = per_row ? torch::randint(0, 5000, {b, s}, opts.dtype(torch::kInt64))
                                     : torch::arange(s, opts.dtype(torch::kInt64)).unsqueeze(0);
      const auto [cos, sin] = rotary_tables(positions, d, 10000.0, dtype);
      const auto y0 = torch::randn({b, s, h * d}, opts.dtype(torch::kFloat32)).to(dtype);
      const auto dout = torch::randn({b, h, s, d}, opts.dtype(torch::kFloat32)).to(dtype);

      auto y_ref = y0.clone().requires_grad_(true);
      const auto ref = apply_rotary(y_ref.view({b, s, h, d}).transpose(1, 2), cos, sin);
      ref.backward(dout);
      auto y_fused = y0.clone().requires_grad_(true);
      const auto fused = rotary_heads_fused(y_fused, cos, sin, h);
      fused.backward(dout);

      EXPECT_TRUE(fused.is_contiguous());
      EXPECT_EQ(fused.sizes(), ref.sizes());
      EXPECT_TRUE(torch::equal(fused, ref)) << dtype << " per_row " << per_row << " max diff "
                                            << (fused - ref).abs().max().item<double>();
      EXPECT_TRUE(torch::equal(y_fused.grad(), y_ref.grad()))
          << dtype << " per_row " << per_row << " max diff "
          << (y_fused.grad() - y_ref.grad()).abs().max().item<double>();
    }
  }
}

}  // namespace
}  // namespace arena
