// The fused CPU loops (model/nn/cpu_kernels.h) through their autograd wrappers (model/nn/fused_ops.h)
// against the eager ATen chains run in fp64: RMSNorm and tanh-GeGLU values and input gradients in
// fp32 and bf16; the rotary with its head split against the eager chain bit for bit; the bf16
// conversions against c10's on every bit pattern class; the polynomial tanh against std::tanh; the
// seeded dropout's fp32 and bf16 loops against the element-by-element hash, from odd and even
// offsets and across thread splits.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <vector>

#include "model/cuda/dropout_hash.h"
#include "model/lora/lora_dropout.h"
#include "model/nn/bf16_bits.h"
#include "model/nn/cpu_kernels.h"
#include "model/nn/fused_ops.h"
#include "model/nn/rotary.h"

namespace arena {
namespace {

double rel(const torch::Tensor& a, const torch::Tensor& ref) {
  const auto r = ref.to(torch::kFloat64);
  return ((a.to(torch::kFloat64) - r).abs().max() / r.abs().max()).item<double>();
}

// Eager Gemma RMSNorm in fp64: the reference.
torch::Tensor rms_eager(const torch::Tensor& x, const torch::Tensor& w, double eps) {
  return x * torch::rsqrt(x.pow(2).mean(-1, true) + eps) * (1.0 + w);
}

// Values and input gradient of f_fused(x) in `dtype` against f_ref in fp64, for the same upstream
// gradient; returns {value error, gradient error}.
template <typename Fused, typename Ref>
std::pair<double, double> compare(const std::vector<torch::Tensor>& inputs64, torch::ScalarType dtype, Fused fused,
                                  Ref ref) {
  std::vector<torch::Tensor> low, hi;
  for (const auto& t : inputs64) {
    low.push_back(t.to(dtype).detach().requires_grad_(true));
    hi.push_back(low.back().detach().to(torch::kFloat64).requires_grad_(true));  // the same rounded inputs
  }
  const auto y = fused(low);
  const auto y_ref = ref(hi);
  const auto dy = torch::randn(y_ref.sizes(), torch::kFloat64);
  y.backward(dy.to(dtype));
  y_ref.backward(dy.to(dtype).to(torch::kFloat64));
  double grad_err = 0;
  for (size_t i = 0; i < low.size(); ++i)
    if (low[i].grad().defined()) grad_err = std::max(grad_err, rel(low[i].grad(), hi[i].grad()));
  return {rel(y, y_ref), grad_err};
}

TEST(CpuKernels, RmsNormMatchesEagerFp64) {
  torch::manual_seed(1);
  for (const int64_t n : {640, 256, 37}) {  // the model widths, and one that leaves a tail after 16 lanes
    const auto x = torch::randn({5, 3, n}, torch::kFloat64) * 3;
    const auto w = torch::randn({n}, torch::kFloat64) * 0.5;
    const auto fused = [](const std::vector<torch::Tensor>& v) { return rms_norm_fused(v[0], v[1].detach(), 1e-6); };
    const auto ref = [](const std::vector<torch::Tensor>& v) { return rms_eager(v[0], v[1].detach(), 1e-6); };
    const auto [f32_value, f32_grad] = compare({x, w}, torch::kFloat32, fused, ref);
    EXPECT_LT(f32_value, 1e-6) << n;
    EXPECT_LT(f32_grad, 1e-5) << n;
    const auto [bf16_value, bf16_grad] = compare({x, w}, torch::kBFloat16, fused, ref);
    EXPECT_LE(bf16_value, 1.0 / 256) << n;  // one rounding of the output
    EXPECT_LE(bf16_grad, 1.0 / 128) << n;
  }
}

TEST(CpuKernels, GegluMatchesEagerFp64) {
  torch::manual_seed(2);
  // Gate values across the whole curve: the small-|x| polynomial, the exp branch, saturation.
  const auto gate = torch::cat({torch::randn({4000}, torch::kFloat64) * 3, torch::linspace(-12, 12, 1001, torch::kFloat64),
                                torch::linspace(-0.2, 0.2, 999, torch::kFloat64)});
  const auto up = torch::randn({gate.numel()}, torch::kFloat64);
  const auto fused = [](const std::vector<torch::Tensor>& v) { return geglu_fused(v[0], v[1]); };
  const auto ref = [](const std::vector<torch::Tensor>& v) { return torch::gelu(v[0], "tanh") * v[1]; };
  const auto [f32_value, f32_grad] = compare({gate, up}, torch::kFloat32, fused, ref);
  EXPECT_LT(f32_value, 1e-6);
  EXPECT_LT(f32_grad, 1e-6);
  const auto [bf16_value, bf16_grad] = compare({gate, up}, torch::kBFloat16, fused, ref);
  EXPECT_LE(bf16_value, 1.0 / 256);
  EXPECT_LE(bf16_grad, 1.0 / 256);
}

// The fused rotary with the split into heads is the eager chain bit for bit, forward and backward,
// with one table for the batch or one per row, on one thread and two.
TEST(CpuKernels, RotaryHeadsBitIdenticalToEagerChain) {
  torch::manual_seed(6);
  const int64_t b = 3, s = 37, h = 4, d = 64;
  for (const auto dtype : {torch::kFloat32, torch::kBFloat16}) {
    for (const int64_t cos_batch : {int64_t{1}, b}) {
      const auto positions = torch::arange(s).unsqueeze(0).expand({cos_batch, s}) + torch::arange(cos_batch).unsqueeze(1);
      const auto [cos, sin] = rotary_tables(positions, d, 10000.0, dtype);
      const auto y = (torch::randn({b, s, h * d}) * 4).to(dtype);
      const auto dy = torch::randn({b, h, s, d}).to(dtype);
      for (const int threads : {1, 2}) {
        at::set_num_threads(threads);
        const auto y1 = y.clone().requires_grad_(true);
        const auto fused = rotary_heads_fused(y1, cos, sin, h);
        fused.backward(dy);
        const auto y2 = y.clone().requires_grad_(true);
        const auto eager = apply_rotary(y2.view({b, s, h, d}).transpose(1, 2), cos, sin);
        eager.backward(dy);
        EXPECT_TRUE(fused.is_contiguous());
        EXPECT_TRUE(torch::equal(fused, eager)) << dtype << " cos_batch " << cos_batch << " threads " << threads;
        EXPECT_TRUE(torch::equal(y1.grad(), y2.grad())) << dtype << " cos_batch " << cos_batch;
      }
    }
  }
}

TEST(CpuKernels, GegluBackwardValueIsTheForward) {
  torch::manual_seed(3);
  const int64_t n = 3001;
  const auto g = torch::randn({n}), u = torch::randn({n}), d = torch::randn({n});
  std::vector<float> dg(n), du(n), value(n), forward(n), dg2(n), du2(n);
  const float *gp = g.data_ptr<float>(), *up = u.data_ptr<float>(), *dp = d.data_ptr<float>();
  cpu::geglu_backward(gp, up, dp, dg.data(), du.data(), value.data(), n);
  cpu::geglu_forward(gp, up, forward.data(), n);
  EXPECT_EQ(std::memcmp(value.data(), forward.data(), sizeof(float) * n), 0);
  // The gradients without the value are the same bits.
  cpu::geglu_backward(gp, up, dp, dg2.data(), du2.data(), static_cast<float*>(nullptr), n);
  EXPECT_EQ(std::memcmp(dg.data(), dg2.data(), sizeof(float) * n), 0);
  EXPECT_EQ(std::memcmp(du.data(), du2.data(), sizeof(float) * n), 0);
}

TEST(CpuKernels, Bf16KernelsRoundTheFp32ResultOnce) {
  torch::manual_seed(4);
  const auto g = torch::randn({4099}).to(torch::kBFloat16), u = torch::randn({4099}).to(torch::kBFloat16);
  auto out = torch::empty_like(g);
  cpu::geglu_forward(g.data_ptr<c10::BFloat16>(), u.data_ptr<c10::BFloat16>(), out.data_ptr<c10::BFloat16>(), 4099);
  const auto g32 = g.to(torch::kFloat32), u32 = u.to(torch::kFloat32);
  auto out32 = torch::empty_like(g32);
  cpu::geglu_forward(g32.data_ptr<float>(), u32.data_ptr<float>(), out32.data_ptr<float>(), 4099);
  EXPECT_TRUE(torch::equal(out, out32.to(torch::kBFloat16)));  // ATen's rounding of the same fp32 values
}

TEST(CpuKernels, Bf16ConversionsMatchC10) {
  // Every bf16 pattern widens as c10 does; fp32 values around every rounding case narrow as c10 does.
  for (uint32_t h = 0; h < 65536; ++h) {
    c10::BFloat16 b;
    b.x = static_cast<uint16_t>(h);
    const float f = bf16_to_float(static_cast<uint16_t>(h));
    const float c = static_cast<float>(b);
    ASSERT_EQ(std::memcmp(&f, &c, sizeof f), 0) << h;
  }
  std::vector<uint32_t> patterns;
  for (uint32_t hi = 0; hi < 65536; hi += 7)
    for (const uint32_t lo : {0x0000u, 0x0001u, 0x7FFFu, 0x8000u, 0x8001u, 0xFFFFu}) patterns.push_back(hi << 16 | lo);
  for (const uint32_t u : {0x7F800000u, 0xFF800000u, 0x7FC00000u, 0x7F800001u, 0xFFFFFFFFu, 0x7F7FFFFFu})
    patterns.push_back(u);
  for (const uint32_t u : patterns) {
    float f;
    std::memcpy(&f, &u, sizeof f);
    ASSERT_EQ(float_to_bf16(f), c10::BFloat16(f).x) << std::hex << u;
  }
}

TEST(CpuKernels, TanhWithinThreeUlpOfStd) {  // measured: 2.48 ulp at worst
  double worst_ulps = 0;
  for (int i = -200000; i <= 200000; ++i) {
    const float x = static_cast<float>(i) * 6e-5f;  // [-12, 12], dense near 0
    const double exact = std::tanh(static_cast<double>(x));
    const double ulp = std::nextafter(static_cast<float>(std::fabs(exact)), 2.0f) - static_cast<float>(std::fabs(exact));
    worst_ulps = std::max(worst_ulps, std::fabs(cpu::tanh_approx(x) - exact) / ulp);
  }
  EXPECT_LE(worst_ulps, 3.0);
  EXPECT_TRUE(std::isnan(cpu::tanh_approx(std::numeric_limits<float>::quiet_NaN())));
  EXPECT_EQ(cpu::tanh_approx(1e30f), 1.0f);
  EXPECT_EQ(cpu::tanh_approx(-1e30f), -1.0f);
  EXPECT_EQ(cpu::tanh_approx(0.0f), 0.0f);
}

TEST(CpuKernels, SeededDropoutIsTheHashElementByElement) {
  torch::manual_seed(5);
  const uint64_t seed = 0x1234'5678'9abcULL;
  const double p = 0.1;
  const auto threshold = static_cast<uint32_t>(std::llround(p * (1u << 24)));
  const float scale = static_cast<float>(1.0 / (1.0 - p));
  for (const auto dtype : {torch::kFloat32, torch::kBFloat16}) {
    const auto x = torch::randn({1001, 67}).to(dtype);  // odd sizes: parallel chunks start at odd indices
    for (const int threads : {1, 2}) {
      at::set_num_threads(threads);
      const auto y = seeded_dropout(x, seed, p).to(torch::kFloat32);
      const auto x32 = x.to(torch::kFloat32);
      auto expect = torch::empty_like(x32);
      const float* xi = x32.data_ptr<float>();
      float* e = expect.data_ptr<float>();
      for (int64_t i = 0; i < x.numel(); ++i)
        e[i] = dropout_keep(seed, static_cast<uint64_t>(i), threshold) ? xi[i] * scale : 0.0f;
      EXPECT_TRUE(torch::equal(y, expect.to(dtype).to(torch::kFloat32))) << dtype << " threads " << threads;
    }
  }
  // A range that starts at an odd index and ends mid-pair.
  std::vector<float> x(31, 1.0f), y(31);
  cpu::seeded_dropout(x.data(), y.data(), 7, 31, seed, threshold, scale);
  for (int i = 0; i < 31; ++i)
    EXPECT_EQ(y[i], dropout_keep(seed, 7 + static_cast<uint64_t>(i), threshold) ? scale : 0.0f) << i;
}

}  // namespace
}  // namespace arena
