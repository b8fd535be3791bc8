// The seeded LoRA dropout (model/lora/lora_dropout.h): the mask's statistics and determinism, and
// lora_down's values and gradients against dropout(x)·Aᵀ built from the same mask with autograd.
#include <ATen/CPUGeneratorImpl.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "model/cuda/dropout_hash.h"
#include "model/gemma/config.h"
#include "model/gemma/mlp.h"
#include "model/lora/geglu_lora_down.h"
#include "model/lora/lora_dropout.h"

namespace arena {
namespace {

TEST(SeededDropout, DropsTheRightFractionAndScalesTheRest) {
  const auto x = torch::ones({1000, 1000});
  for (const double p : {0.05, 0.1, 0.3}) {
    const auto y = seeded_dropout(x, 1234, p);
    const double dropped = (y == 0).to(torch::kFloat64).mean().item<double>();
    EXPECT_NEAR(dropped, p, 0.002) << p;  // 1e6 draws: 4+ standard deviations
    const auto kept = y.masked_select(y != 0);
    EXPECT_TRUE(torch::all(kept == static_cast<float>(1.0 / (1.0 - p))).item<bool>()) << p;
  }
  // No structure along rows or columns: per-column drop rates stay near p.
  const auto col = (seeded_dropout(x, 99, 0.1) == 0).to(torch::kFloat64).mean(0);
  EXPECT_LT((col - 0.1).abs().max().item<double>(), 0.05);
}

// One hash serves an element pair; the pair helper the kernels use equals the per-element draw, and
// the two halves of a pair are not correlated.
TEST(SeededDropout, PairDrawsEqualElementDraws) {
  const uint32_t threshold = 1u << 23;  // p = 0.5
  int64_t both = 0, pairs = 0;
  for (uint64_t seed : {0ULL, 42ULL, 0xDEADBEEFCAFEULL}) {
    for (uint64_t i = 0; i < 20000; i += 2) {
      const KeepPair k = dropout_keep_pair(seed, i, threshold);
      ASSERT_EQ(k.first, dropout_keep(seed, i, threshold)) << i;
      ASSERT_EQ(k.second, dropout_keep(seed, i + 1, threshold)) << i;
      both += (k.first && k.second) ? 1 : 0;
      ++pairs;
    }
  }
  EXPECT_NEAR(static_cast<double>(both) / static_cast<double>(pairs), 0.25, 0.01);  // 30,000 pairs
  // seeded_dropout's pairwise loop (split into parallel chunks, odd length) draws the element masks.
  const int64_t n = 100003;
  const auto y = seeded_dropout(torch::ones({n}), 5, 0.3);
  auto want = torch::empty({n}, torch::kBool);
  auto* w = want.data_ptr<bool>();
  for (int64_t i = 0; i < n; ++i) w[i] = dropout_keep(5, static_cast<uint64_t>(i), 5033165u);  // round(0.3·2²⁴)
  EXPECT_TRUE(torch::equal(y != 0, want));
}

TEST(SeededDropout, SameSeedSameMaskOtherSeedOtherMask) {
  const auto x = torch::randn({64, 300});
  EXPECT_TRUE(torch::equal(seeded_dropout(x, 7, 0.1), seeded_dropout(x, 7, 0.1)));
  EXPECT_FALSE(torch::equal(seeded_dropout(x, 7, 0.1), seeded_dropout(x, 8, 0.1)));
  // The mask depends on the element's position, not the tensor's layout.
  const auto xt = x.t().contiguous().t();
  EXPECT_TRUE(torch::equal(seeded_dropout(xt, 7, 0.1), seeded_dropout(x, 7, 0.1)));
  // bf16: the fp32 result rounded once.
  const auto xb = x.to(torch::kBFloat16);
  EXPECT_TRUE(torch::equal(seeded_dropout(xb, 7, 0.1), seeded_dropout(xb.to(torch::kFloat32), 7, 0.1).to(torch::kBFloat16)));
  EXPECT_TRUE(torch::equal(seeded_dropout(x, 7, 0.0), x));
}

TEST(LoraDown, ValuesAndGradientsEqualDropoutThenLinear) {
  torch::manual_seed(3);
  const auto opts = torch::TensorOptions().dtype(torch::kFloat64);
  const auto x0 = torch::randn({2, 5, 16}, opts);
  const auto a0 = torch::randn({4, 16}, opts);
  const auto g = torch::randn({2, 5, 4}, opts);
  const double p = 0.25;

  auto state = at::detail::getDefaultCPUGenerator().get_state();
  auto x = x0.clone().requires_grad_(true);
  auto a = a0.clone().requires_grad_(true);
  const auto y = lora_down(x, a, p, /*training=*/true);
  y.backward(g);

  auto gen = at::detail::getDefaultCPUGenerator();
  gen.set_state(state);
  const uint64_t seed = draw_dropout_seed();
  const auto mask = seeded_dropout(torch::ones_like(x0), seed, p);  // 0 or 1/(1-p)
  EXPECT_GT((mask == 0).sum().item<int64_t>(), 0);
  auto xr = x0.clone().requires_grad_(true);
  auto ar = a0.clone().requires_grad_(true);
  const auto yr = torch::linear(xr * mask, ar);
  yr.backward(g);

  EXPECT_TRUE(torch::allclose(y, yr, 1e-12, 1e-12));
  EXPECT_TRUE(torch::allclose(x.grad(), xr.grad(), 1e-12, 1e-12));
  EXPECT_TRUE(torch::allclose(a.grad(), ar.grad(), 1e-12, 1e-12));
}

TEST(LoraDown, EachCallDrawsAFreshMaskAndEvalModeHasNone) {
  const auto x = torch::ones({8, 32});
  const auto a = torch::eye(32);
  const auto first = lora_down(x, a, 0.5, true);
  const auto second = lora_down(x, a, 0.5, true);
  EXPECT_FALSE(torch::equal(first, second));
  EXPECT_TRUE(torch::equal(lora_down(x, a, 0.5, /*training=*/false), x));
}

// The MLP with GeGLU and down_proj's adapter input in one node equals the separate ops: the same
// output bits and gradients, with LoRA dropout on, in fp32 and fp64.
TEST(GegluLoraDown, MlpMatchesTheSeparatePath) {
  for (const auto dtype : {torch::kFloat32, torch::kFloat64}) {
    GemmaConfig c;
    c.hidden_size = 32;
    c.intermediate_size = 96;
    torch::manual_seed(5);
    Mlp mlp(c, torch::TensorOptions().dtype(dtype));
    LoraOptions lora;
    lora.rank = 4;
    lora.dropout = 0.2;
    for (auto* l : {&mlp->gate_proj, &mlp->up_proj, &mlp->down_proj}) {
      (*l)->add_lora(lora, dtype);
      torch::NoGradGuard no_grad;
      (*l)->lora_B.normal_(0.0, 0.1);  // B = 0 at init would hide the adapter's gradients
    }
    mlp->train();
    const auto x0 = torch::randn({3, 7, 32}, torch::TensorOptions().dtype(dtype));
    const auto g = torch::randn({3, 7, 32}, torch::TensorOptions().dtype(dtype));
    struct Out {
      torch::Tensor y, dx;
      std::vector<torch::Tensor> grads;
    };
    const auto run = [&](bool fused) {
      set_geglu_lora_down_fusion(fused);
      torch::manual_seed(11);  // the same dropout seeds for both paths
      for (auto& p : mlp->parameters()) p.mutable_grad() = torch::Tensor();
      auto x = x0.clone().requires_grad_(true);
      const auto y = mlp->forward(x);
      y.backward(g);
      Out o{y.detach(), x.grad(), {}};
      for (const auto& p : mlp->parameters())
        if (p.requires_grad()) o.grads.push_back(p.grad().clone());
      return o;
    };
    const auto sep = run(false);
    const auto fused = run(true);
    set_geglu_lora_down_fusion(true);
    EXPECT_TRUE(torch::equal(sep.y, fused.y)) << dtype;
    const double tol = dtype == torch::kFloat64 ? 1e-12 : 1e-5;
    EXPECT_TRUE(torch::allclose(sep.dx, fused.dx, tol, tol)) << dtype;
    ASSERT_EQ(sep.grads.size(), 9u);  // 3 dense base weights (trainable here) + 3 adapters
    for (size_t i = 0; i < sep.grads.size(); ++i)
      EXPECT_TRUE(torch::allclose(sep.grads[i], fused.grads[i], tol, tol)) << dtype << " gradient " << i;
  }
}

}  // namespace
}  // namespace arena
