// LoRA's second half added in place (model/lora/lora_up.h): values and gradients against the
// out-of-place formula y + s·a·Bᵀ, on the outputs the projections actually produce.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "model/lora/linear.h"
#include "model/lora/lora_up.h"

namespace arena {
namespace {

const auto kF64 = torch::TensorOptions().dtype(torch::kFloat64);

struct Grads {
  torch::Tensor out, x, a, b;
};

// y = base(x) for a given base, then the update (in place or the reference), then backward with g.
template <typename Base, typename Update>
Grads run(const Base& base, const Update& update, const torch::Tensor& x0, const torch::Tensor& a0,
          const torch::Tensor& b0, const torch::Tensor& g) {
  auto x = x0.clone().requires_grad_(true);
  auto a = a0.clone().requires_grad_(true);
  auto b = b0.clone().requires_grad_(true);
  const auto out = update(base(x), a, b);
  out.backward(g);
  return {out.detach(), x.grad(), a.grad(), b.grad()};
}

void expect_same(const Grads& got, const Grads& want, double tol) {
  EXPECT_TRUE(torch::allclose(got.out, want.out, 0, tol)) << (got.out - want.out).abs().max();
  EXPECT_TRUE(torch::allclose(got.x, want.x, 0, tol)) << (got.x - want.x).abs().max();
  EXPECT_TRUE(torch::allclose(got.a, want.a, 0, tol)) << (got.a - want.a).abs().max();
  EXPECT_TRUE(torch::allclose(got.b, want.b, 0, tol)) << (got.b - want.b).abs().max();
}

constexpr double kScaling = 2.5;
const auto in_place = [](const torch::Tensor& y, const torch::Tensor& a, const torch::Tensor& b) {
  return lora_up_add_(y, a, b, kScaling);
};
const auto reference = [](const torch::Tensor& y, const torch::Tensor& a, const torch::Tensor& b) {
  return y + torch::matmul(a, b.t()) * kScaling;
};

TEST(LoraUpAdd, ValuesAndGradientsEqualTheOutOfPlaceFormula) {
  torch::manual_seed(11);
  const auto w = torch::randn({12, 16}, kF64);
  const auto x = torch::randn({2, 5, 16}, kF64);
  const auto a = torch::randn({2, 5, 4}, kF64);
  const auto b = torch::randn({12, 4}, kF64);
  const auto g = torch::randn({2, 5, 12}, kF64);
  const auto base = [&](const torch::Tensor& t) { return torch::linear(t, w); };
  expect_same(run(base, in_place, x, a, b, g), run(base, reference, x, a, b, g), 1e-12);
}

TEST(LoraUpAdd, UpdatesTheProjectionOutputInPlace) {
  torch::manual_seed(12);
  const auto x = torch::randn({3, 16}, kF64).requires_grad_(true);
  const auto y = torch::linear(x, torch::randn({8, 16}, kF64));
  const auto before = y.detach().clone();
  const auto a = torch::randn({3, 4}, kF64);
  const auto b = torch::randn({8, 4}, kF64);
  const auto out = lora_up_add_(y, a, b, 0.5);
  EXPECT_EQ(out.data_ptr(), y.data_ptr());
  EXPECT_TRUE(torch::allclose(y.detach(), before + torch::matmul(a, b.t()) * 0.5, 0, 1e-12));
  {
    torch::NoGradGuard no_grad;  // inference: same update, no graph
    const auto z = torch::zeros({3, 8}, kF64);
    EXPECT_TRUE(torch::allclose(lora_up_add_(z, a, b, 0.5), torch::matmul(a, b.t()) * 0.5, 0, 1e-12));
  }
}

// The real callers pass a quantized or dense Linear's base_forward output: it must be a plain
// tensor (not a view a custom Function made), or the in-place update would be refused by autograd
// or fall back to the copying addmm.
TEST(LoraUpAdd, WorksOnTheBaseProjectionsOutput) {
  torch::manual_seed(13);
  for (const bool quantized : {false, true}) {
    Linear lin(64, 32, 0.02, torch::TensorOptions().dtype(torch::kFloat32));
    if (quantized) lin->quantize(/*double_quant=*/true);
    const auto x = torch::randn({2, 3, 64});
    const auto a = torch::randn({2, 3, 4});
    const auto b = torch::randn({32, 4});
    const auto g = torch::randn({2, 3, 32});
    const auto base = [&](const torch::Tensor& t) {
      auto y = lin->base_forward(t);
      EXPECT_TRUE(y.is_contiguous() && !y.is_view()) << "quantized " << quantized;
      return y;
    };
    expect_same(run(base, in_place, x, a, b, g), run(base, reference, x, a, b, g), 1e-5);
  }
}

// The first adapted layer reads hidden states from frozen layers: y needs no grad until the update.
TEST(LoraUpAdd, GivesGradientsWhenOnlyTheAdapterRequiresThem) {
  torch::manual_seed(14);
  const auto y = torch::linear(torch::randn({3, 16}, kF64), torch::randn({8, 16}, kF64));
  ASSERT_FALSE(y.requires_grad());
  const auto a = torch::randn({3, 4}, kF64).requires_grad_(true);
  const auto b = torch::randn({8, 4}, kF64).requires_grad_(true);
  const auto g = torch::randn({3, 8}, kF64);
  lora_up_add_(y, a, b, kScaling).backward(g);
  EXPECT_TRUE(torch::allclose(a.grad(), torch::matmul(g, b.detach()) * kScaling, 0, 1e-12));
  EXPECT_TRUE(torch::allclose(b.grad(), torch::matmul(g.t(), a.detach()) * kScaling, 0, 1e-12));
}

TEST(LoraUpAdd, RefusesWhatItCannotUpdateSafely) {
  const auto a = torch::randn({3, 4});
  const auto b = torch::randn({8, 4});
  EXPECT_THROW(lora_up_add_(torch::zeros({3, 8}).requires_grad_(true), a, b, 1.0), std::exception);  // a leaf
  EXPECT_THROW(lora_up_add_(torch::zeros({8, 3}).t(), a, b, 1.0), std::exception);                   // strided
  EXPECT_THROW(lora_up_add_(torch::zeros({3, 7}), a, b, 1.0), std::exception);                       // shapes
  // An earlier node that saved y (exp saves its output) makes backward fail loudly, not silently.
  const auto x = torch::randn({3, 8}).requires_grad_(true);
  const auto y = torch::exp(x);
  lora_up_add_(y, a, b, 1.0);
  EXPECT_THROW(y.sum().backward(), std::exception);
}

}  // namespace
}  // namespace arena
