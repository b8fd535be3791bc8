// The CPU loops of LoRA's dropout-down (model/lora/lora_cpu_kernels.h, reached through
// model/lora/lora_dropout.h on the CPU in fp32 and bf16) against fp64 references built from
// seeded_dropout's mask: the forward dropout(x)·Aᵀ, the input gradient dropout(g·A) + add and the
// weight gradient gᵀ·dropout(x). Shapes cross the loops' 512-element blocks and start rows at odd
// flat indices; the results must not depend on the thread count, and ATen's chain (the loops
// switched off) must land within the same bounds.
#include <ATen/Parallel.h>
#include <gtest/gtest.h>
#include <fmt/format.h>
#include <torch/torch.h>

#include <string>
#include <tuple>
#include <vector>

#include "model/lora/lora_dropout.h"
#include "model/nn/fused_ops.h"

namespace arena {
namespace {

const auto kF64 = torch::kFloat64;

// rows, in, r
const std::vector<std::tuple<int64_t, int64_t, int64_t>> kShapes{
    {37, 200, 4}, {5, 203, 16}, {64, 96, 32}, {129, 1030, 3}, {300, 2048, 8}, {2000, 640, 8}, {4, 9, 1}};

// One rounding of a stored result: 2^-8 relative in bf16 (half an ulp is 2^-9), 2^-23 in fp32.
double unit(torch::ScalarType dtype) { return dtype == torch::kBFloat16 ? 1.0 / 256 : 1.0 / 8388608; }

struct Restore {
  ~Restore() {
    set_cpu_dropout_linear_loops(true);
    at::set_num_threads(threads);
  }
  int threads = at::get_num_threads();
};

// Checks got against want within `bound` everywhere; reports the worst element.
void expect_within(const torch::Tensor& got, const torch::Tensor& want, const torch::Tensor& bound,
                   const std::string& what) {
  const auto err = (got.to(kF64) - want).abs();
  EXPECT_TRUE((err <= bound).all().item<bool>())
      << what << ": max err " << err.max().item<double>() << ", worst err/bound "
      << (err / bound).max().item<double>();
}

// The three parts of each shape and dtype against fp64, with the loops on (`loops`) or off.
void check_against_fp64(bool loops) {
  const Restore restore;
  set_cpu_dropout_linear_loops(loops);
  const double p = 0.1;
  torch::manual_seed(21);
  for (const auto dtype : {torch::kFloat32, torch::kBFloat16}) {
    const double u = unit(dtype);
    for (const auto& [rows, in, r] : kShapes) {
      const auto name = fmt::format("{} rows={} in={} r={} loops={}", c10::toString(dtype), rows, in, r, loops);
      const auto x = torch::randn({rows, in}).to(dtype);
      const auto a = (torch::randn({r, in}) * 0.05).to(dtype);
      const auto g = torch::randn({rows, r}).to(dtype);
      const auto add = torch::randn({rows, in}).to(dtype);
      const uint64_t seed = 0xABCDEFULL + static_cast<uint64_t>(rows * in);
      const auto dropped = seeded_dropout(x, seed, p).to(kF64);  // the stored dropped values
      const auto mask = seeded_dropout(torch::ones({rows, in}, kF64), seed, p);  // 0 or 1/(1-p)
      ASSERT_GT((mask == 0).sum().item<int64_t>(), 0) << name;

      // forward: one rounding of the result plus the fp32 sum (bounded by the sum of |products|)
      const auto fwd = dropout_linear(x, a, seed, p);
      ASSERT_EQ(fwd.sizes(), (std::vector<int64_t>{rows, r})) << name;
      const auto fwd_want = torch::matmul(dropped, a.to(kF64).t());
      const auto fwd_mag = torch::matmul(dropped.abs(), a.to(kF64).abs().t());
      expect_within(fwd, fwd_want, fwd_want.abs() * u + fwd_mag * 1e-5 + 1e-30, "forward " + name);

      // input gradient, alone and with the gradient it joins: the product, the dropped value and
      // the sum rounded as the chain rounds them
      for (const bool with_add : {false, true}) {
        const auto got = dropout_linear_input_grad(g, a, seed, p, with_add ? add : torch::Tensor());
        ASSERT_EQ(got.sizes(), (std::vector<int64_t>{rows, in})) << name;
        const auto prod = torch::matmul(g.to(kF64), a.to(kF64)) * mask;
        const auto add64 = with_add ? add.to(kF64) : torch::zeros_like(prod);
        const auto mag = torch::matmul(g.to(kF64).abs(), a.to(kF64).abs()) * mask;
        expect_within(got, prod + add64, (prod.abs() * 2 + add64.abs()) * (3 * u) + mag * 1e-6 + 1e-30,
                      fmt::format("input gradient add={} {}", with_add, name));
        // dropped positions carry exactly the added gradient (or zero)
        const auto gone = mask == 0;
        EXPECT_TRUE(torch::equal(got.to(kF64).masked_select(gone), add64.masked_select(gone))) << name;
      }

      // weight gradient: fp32 sums over the rows, one rounding
      const auto wg = dropout_linear_weight_grad(g, x, torch::Tensor(), seed, p);
      ASSERT_EQ(wg.sizes(), (std::vector<int64_t>{r, in})) << name;
      ASSERT_EQ(wg.scalar_type(), dtype) << name;
      const auto wg_want = torch::matmul(g.to(kF64).t(), dropped);
      const auto wg_mag = torch::matmul(g.to(kF64).abs().t(), dropped.abs());
      expect_within(wg, wg_want, wg_want.abs() * u + wg_mag * 2e-5 + 1e-30, "weight gradient " + name);
    }
  }
}

TEST(LoraCpuLoops, MatchFp64References) { check_against_fp64(true); }

// The bounds are the chain's too: the loops change the order of sums, not the accuracy.
TEST(LoraCpuLoops, AtenChainMeetsTheSameBounds) { check_against_fp64(false); }

// The loops run where the switches say: their results differ from the chain's by the order of the
// fp32 sums, so at least one of the three parts differs somewhere on a large enough shape; and a 3-D
// input gives the 2-D result reshaped.
TEST(LoraCpuLoops, RunWhereSwitchedOnAndTakeAnyLeadingShape) {
  const Restore restore;
  torch::manual_seed(4);
  const auto x = torch::randn({3, 700, 640});
  const auto a = torch::randn({8, 640}) * 0.05;
  const auto g = torch::randn({3, 700, 8});
  const auto on_fwd = dropout_linear(x, a, 99, 0.05);
  const auto on_wg = dropout_linear_weight_grad(g, x, torch::Tensor(), 99, 0.05);
  EXPECT_EQ(on_fwd.sizes(), (std::vector<int64_t>{3, 700, 8}));
  EXPECT_TRUE(torch::equal(on_fwd.reshape({-1, 8}), dropout_linear(x.reshape({-1, 640}), a, 99, 0.05)));
  set_cpu_dropout_linear_loops(false);
  const auto off_fwd = dropout_linear(x, a, 99, 0.05);
  const auto off_wg = dropout_linear_weight_grad(g, x, torch::Tensor(), 99, 0.05);
  EXPECT_FALSE(torch::equal(on_fwd, off_fwd) && torch::equal(on_wg, off_wg));
  EXPECT_TRUE(torch::allclose(on_fwd, off_fwd, 1e-4, 1e-5));
  EXPECT_TRUE(torch::allclose(on_wg, off_wg, 1e-4, 1e-4));
}

// Rows are split across threads, and the weight gradient's partial sums are cut by the row count
// alone, so 1 and 2 threads give the same bits.
TEST(LoraCpuLoops, SameBitsForAnyThreadCount) {
  const Restore restore;
  torch::manual_seed(8);
  for (const auto dtype : {torch::kFloat32, torch::kBFloat16}) {
    const auto x = torch::randn({3000, 640}).to(dtype);
    const auto a = (torch::randn({8, 640}) * 0.05).to(dtype);
    const auto g = torch::randn({3000, 8}).to(dtype);
    const auto add = torch::randn({3000, 640}).to(dtype);
    std::vector<torch::Tensor> out[2];
    for (const int threads : {1, 2}) {
      at::set_num_threads(threads);
      out[threads - 1] = {dropout_linear(x, a, 5, 0.1), dropout_linear_input_grad(g, a, 5, 0.1, add),
                          dropout_linear_weight_grad(g, x, torch::Tensor(), 5, 0.1)};
    }
    for (size_t i = 0; i < 3; ++i) EXPECT_TRUE(torch::equal(out[0][i], out[1][i])) << dtype << " part " << i;
  }
}

}  // namespace
}  // namespace arena
