// The seeded dropout's CUDA kernel against its CPU path (the same mask and values, bit for bit),
// lora_down's gradients on CUDA against the CPU, and the MLP's GeGLU + LoRA-down node against the
// separate ops on CUDA (fused GeGLU kernels, bf16), the in-place LoRA up-add against the copying
// addmm it replaces, and the fused dropout + down-projection kernels (forward, input and weight
// gradients) against their CPU references. Needs a GPU: label `gpu` (CI skips it).
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "model/gemma/config.h"
#include "model/gemma/mlp.h"
#include "model/lora/geglu_lora_down.h"
#include "model/lora/lora_dropout.h"
#include "model/lora/lora_up.h"
#include "model/nn/fused_ops.h"

namespace arena {
namespace {

// The three LoRA dropout kernels all on for the tests that check them (the default set has only
// the input-gradient kernel), the previous set restored after.
struct AllDropoutKernels {
  unsigned before = dropout_linear_kernels();
  AllDropoutKernels() { set_dropout_linear_kernels(kAllDropoutLinearKernels); }
  ~AllDropoutKernels() { set_dropout_linear_kernels(before); }
};

TEST(SeededDropoutCuda, BitIdenticalToCpu) {
  ASSERT_TRUE(torch::cuda::is_available());
  torch::manual_seed(0);
  for (const auto dtype : {torch::kFloat32, torch::kBFloat16, torch::kFloat16}) {
    for (const int64_t n : {1, 1000, 4 * 1900 * 2304 + 7}) {
      const auto x = torch::randn({n}).to(dtype);
      const auto cpu = seeded_dropout(x, 0xDEADBEEF12345ULL, 0.05);
      const auto gpu = seeded_dropout(x.cuda(), 0xDEADBEEF12345ULL, 0.05).cpu();
      EXPECT_TRUE(torch::equal(cpu, gpu)) << dtype << " n=" << n;
    }
  }
}

// dropout(x)·Aᵀ in one kernel: the dropped values are seeded_dropout's (checked bit for bit on the
// CPU side of this file's first test), so the reference is the CPU's dropped bf16 x times A in fp64.
// The only difference allowed is fp32 accumulation order plus the final rounding to bf16/fp16.
TEST(DropoutLinearCuda, FusedKernelMatchesTheDroppedProductOnTheCpu) {
  ASSERT_TRUE(torch::cuda::is_available());
  const AllDropoutKernels all;
  torch::manual_seed(5);
  for (const auto dtype : {torch::kBFloat16, torch::kHalf}) {
    for (const auto& [rows, in, r] : std::vector<std::tuple<int64_t, int64_t, int64_t>>{
             {37, 200, 4}, {16, 64, 16}, {5, 203, 16}, {3 * 1900 + 5, 2304, 16}, {250, 9216, 16}, {129, 2048, 24},
             {64, 96, 32}}) {
      const auto x = torch::randn({rows, in}).to(dtype);
      const auto a = (torch::randn({r, in}) * 0.05).to(dtype);
      const uint64_t seed = 0x1234ABCDULL + static_cast<uint64_t>(rows);
      const auto got = dropout_linear(x.cuda(), a.cuda(), seed, 0.1);
      ASSERT_EQ(got.sizes(), (std::vector<int64_t>{rows, r}));
      const auto want = torch::matmul(seeded_dropout(x, seed, 0.1).to(torch::kFloat64), a.to(torch::kFloat64).t());
      const auto err = (got.cpu().to(torch::kFloat64) - want).abs();
      // one rounding of the result (2^-8 bf16, 2^-11 fp16, relative) plus fp32 accumulation
      const double rel = dtype == torch::kBFloat16 ? 1.0 / 256 : 1.0 / 2048;
      const auto bound = want.abs() * rel + 1e-5 * std::sqrt(static_cast<double>(in));
      EXPECT_TRUE((err <= bound).all().item<bool>())
          << dtype << " rows=" << rows << " in=" << in << " r=" << r << " max err " << err.max().item<double>();
    }
  }
  // 3-D input, and the unfused path (--no-fused-elementwise) agrees within the same bound.
  const auto x = torch::randn({2, 300, 2304}).to(torch::kBFloat16).cuda();
  const auto a = (torch::randn({16, 2304}) * 0.05).to(torch::kBFloat16).cuda();
  const auto fused = dropout_linear(x, a, 77, 0.05).to(torch::kFloat32);
  torch::Tensor eager;
  {
    struct Restore {
      ~Restore() { set_fused_elementwise(true); }
    } restore;
    set_fused_elementwise(false);
    eager = dropout_linear(x, a, 77, 0.05).to(torch::kFloat32);
  }
  EXPECT_TRUE(torch::allclose(fused, eager, 1.0 / 128, 1e-3)) << (fused - eager).abs().max();
}

// dropout(g·A) + add in one pass: three roundings (the product, the scaled value, the sum) as the
// eager chain, so the error against fp64 stays within 3 units of roundoff of the terms' magnitude.
TEST(DropoutLinearCuda, FusedInputGradientMatchesTheCpuReference) {
  ASSERT_TRUE(torch::cuda::is_available());
  const AllDropoutKernels all;
  torch::manual_seed(6);
  const double p = 0.1;
  for (const auto dtype : {torch::kBFloat16, torch::kHalf}) {
    const double u = dtype == torch::kBFloat16 ? 1.0 / 256 : 1.0 / 2048;
    for (const auto& [rows, in, r] : std::vector<std::tuple<int64_t, int64_t, int64_t>>{
             {37, 200, 4}, {5, 203, 16}, {3 * 1900 + 5, 2304, 16}, {250, 9216, 16}, {129, 2048, 24}, {64, 96, 32}}) {
      for (const bool with_add : {false, true}) {
        const auto g = torch::randn({rows, r}).to(dtype);
        const auto a = (torch::randn({r, in}) * 0.05).to(dtype);
        const auto add = with_add ? torch::randn({rows, in}).to(dtype) : torch::Tensor();
        const uint64_t seed = 0xFEEDULL + static_cast<uint64_t>(in);
        const auto got = dropout_linear_input_grad(g.cuda(), a.cuda(), seed, p, with_add ? add.cuda() : torch::Tensor())
                             .cpu()
                             .to(torch::kFloat64);
        const auto mask = seeded_dropout(torch::ones({rows, in}, torch::kFloat64), seed, p);  // 0 or 1/(1-p)
        const auto dropped = torch::matmul(g.to(torch::kFloat64), a.to(torch::kFloat64)) * mask;
        const auto add64 = with_add ? add.to(torch::kFloat64) : torch::zeros_like(dropped);
        const auto err = (got - (dropped + add64)).abs();
        const auto bound = (dropped.abs() * 2 + add64.abs()) * (3 * u) + 1e-6;
        EXPECT_TRUE((err <= bound).all().item<bool>()) << dtype << " rows=" << rows << " in=" << in << " r=" << r
                                                       << " add=" << with_add << " max err " << err.max().item<double>();
        // Dropped positions carry exactly the added gradient (or zero).
        const auto gone = mask == 0;
        EXPECT_TRUE(torch::equal(got.masked_select(gone), add64.masked_select(gone))) << dtype << " in=" << in;
      }
    }
  }
}

// gᵀ·dropout(v) summed over rows on the tensor cores in 512-row splits. v is x, or the GeGLU value
// of (gate, up); its reference comes from geglu_value on CUDA (the fused GeGLU kernel) so that the
// kernel's recomputation of it is checked too. Bound: one rounding of the result plus fp32
// accumulation, 2e-5 of the sum of |products|.
TEST(DropoutLinearCuda, FusedWeightGradientMatchesTheCpuReference) {
  ASSERT_TRUE(torch::cuda::is_available());
  const AllDropoutKernels all;
  torch::manual_seed(9);
  const double p = 0.1;
  const auto f64 = torch::kFloat64;
  for (const auto dtype : {torch::kBFloat16, torch::kHalf}) {
    const double u = dtype == torch::kBFloat16 ? 1.0 / 256 : 1.0 / 2048;
    for (const auto& [rows, in, r] : std::vector<std::tuple<int64_t, int64_t, int64_t>>{
             {37, 200, 4}, {256, 64, 16}, {5, 203, 16}, {3 * 1900 + 5, 2304, 16}, {1100, 9216, 16}, {129, 2048, 24},
             {300, 96, 32}}) {
      for (const bool geglu : {false, true}) {
        const auto g = torch::randn({rows, r}).to(dtype);
        const auto x = torch::randn({rows, in}).to(dtype);
        const auto up = geglu ? torch::randn({rows, in}).to(dtype) : torch::Tensor();
        const uint64_t seed = 0xC0FFEEULL + static_cast<uint64_t>(rows);
        const auto got = dropout_linear_weight_grad(g.cuda(), x.cuda(), geglu ? up.cuda() : torch::Tensor(), seed, p)
                             .cpu()
                             .to(f64);
        ASSERT_EQ(got.sizes(), (std::vector<int64_t>{r, in}));
        const auto v = geglu ? geglu_value(x.cuda(), up.cuda()).cpu() : x;
        const auto d = seeded_dropout(v, seed, p).to(f64);
        const auto want = torch::matmul(g.to(f64).t(), d);
        const auto mag = torch::matmul(g.to(f64).abs().t(), d.abs());
        const auto err = (got - want).abs();
        EXPECT_TRUE((err <= want.abs() * u + mag * 2e-5 + 1e-6).all().item<bool>())
            << dtype << " rows=" << rows << " in=" << in << " r=" << r << " geglu=" << geglu << " max err "
            << err.max().item<double>();
      }
    }
  }
}

// y += s·a·Bᵀ in place runs the same cuBLAS GEMM (beta = 1) as addmm after its copy of y.
TEST(LoraUpAddCuda, EqualsTheCopyingAddmm) {
  ASSERT_TRUE(torch::cuda::is_available());
  torch::manual_seed(2);
  const auto bf16 = torch::TensorOptions().dtype(torch::kBFloat16).device(torch::kCUDA);
  const auto y = torch::randn({4 * 190, 2304}, bf16);
  const auto a = torch::randn({4 * 190, 16}, bf16);
  const auto b = torch::randn({2304, 16}, bf16);
  const auto want = torch::addmm(y, a, b.t(), /*beta=*/1.0, /*alpha=*/2.0);
  const auto got = lora_up_add_(y.clone(), a, b, 2.0);
  EXPECT_TRUE(torch::equal(got, want)) << (got.to(torch::kFloat32) - want.to(torch::kFloat32)).abs().max();

  // Gradients in fp32 against autograd's addmm.
  const auto f32 = bf16.dtype(torch::kFloat32);
  const auto g = torch::randn({4 * 190, 2304}, f32);
  const auto grads = [&](bool in_place) {
    auto a32 = a.to(torch::kFloat32).requires_grad_(true);
    auto b32 = b.to(torch::kFloat32).requires_grad_(true);
    const auto base = y.to(torch::kFloat32);
    const auto out = in_place ? lora_up_add_(base.clone(), a32, b32, 2.0) : torch::addmm(base, a32, b32.t(), 1.0, 2.0);
    out.backward(g);
    return std::make_pair(a32.grad(), b32.grad());
  };
  const auto [da, db] = grads(true);
  const auto [da_ref, db_ref] = grads(false);
  EXPECT_TRUE(torch::allclose(da, da_ref, 1e-4, 1e-3)) << (da - da_ref).abs().max();
  EXPECT_TRUE(torch::allclose(db, db_ref, 1e-4, 1e-3)) << (db - db_ref).abs().max();
}

TEST(LoraDownCuda, GradientsMatchCpu) {
  ASSERT_TRUE(torch::cuda::is_available());
  torch::manual_seed(1);
  const auto x0 = torch::randn({3, 50, 64});
  const auto a0 = torch::randn({8, 64});
  const auto g = torch::randn({3, 50, 8});
  struct Out {
    torch::Tensor y, dx, da;
  };
  const auto run = [&](torch::Device d) {
    torch::manual_seed(42);  // the same CPU-generator seed on both devices
    // detach: on the CPU .to() returns x0 itself, which must not become a grad-requiring leaf
    // (the CUDA copy of it would then be a non-leaf without .grad).
    auto x = x0.to(d).detach().requires_grad_(true);
    auto a = a0.to(d).detach().requires_grad_(true);
    const auto y = lora_down(x, a, 0.1, true);
    y.backward(g.to(d));
    return Out{y.detach().cpu(), x.grad().cpu(), a.grad().cpu()};
  };
  const auto cpu = run(torch::kCPU);
  const auto gpu = run(torch::kCUDA);
  EXPECT_TRUE(torch::allclose(cpu.y, gpu.y, 1e-4, 1e-4));
  EXPECT_TRUE(torch::allclose(cpu.dx, gpu.dx, 1e-4, 1e-4));
  EXPECT_TRUE(torch::allclose(cpu.da, gpu.da, 1e-3, 1e-3));
}

TEST(GegluLoraDownCuda, MlpMatchesTheSeparatePath) {
  ASSERT_TRUE(torch::cuda::is_available());
  GemmaConfig c;
  c.hidden_size = 256;
  c.intermediate_size = 1024;
  torch::manual_seed(5);
  const auto opts = torch::TensorOptions().dtype(torch::kBFloat16).device(torch::kCUDA);
  Mlp mlp(c, opts);
  LoraOptions lora;
  lora.rank = 8;
  lora.dropout = 0.1;
  for (auto* l : {&mlp->gate_proj, &mlp->up_proj, &mlp->down_proj}) {
    (*l)->quantize(true);
    (*l)->add_lora(lora, torch::kFloat32);
    torch::NoGradGuard no_grad;
    (*l)->lora_B.normal_(0.0, 0.05);
  }
  mlp->train();
  const auto x0 = torch::randn({2, 300, 256}, opts);
  const auto g = torch::randn({2, 300, 256}, opts);
  const auto run = [&](bool fused) {
    set_geglu_lora_down_fusion(fused);
    torch::manual_seed(11);
    for (auto& p : mlp->parameters()) p.mutable_grad() = torch::Tensor();
    auto x = x0.clone().requires_grad_(true);
    const auto y = mlp->forward(x);
    y.backward(g);
    std::vector<torch::Tensor> out{y.detach().to(torch::kFloat32), x.grad().to(torch::kFloat32)};
    for (const auto& p : mlp->parameters())
      if (p.requires_grad()) out.push_back(p.grad().to(torch::kFloat32));
    return out;
  };
  const auto sep = run(false);
  const auto fused = run(true);
  set_geglu_lora_down_fusion(true);
  ASSERT_EQ(sep.size(), 2u + 6u);
  EXPECT_TRUE(torch::equal(sep[0], fused[0]));  // same kernels, same mask: same output bits
  for (size_t i = 1; i < sep.size(); ++i) {
    const double rel = ((sep[i] - fused[i]).norm() / sep[i].norm()).item<double>();
    EXPECT_LT(rel, 1e-2) << "gradient " << i;  // bf16: one sum of two terms in another order
  }
}

}  // namespace
}  // namespace arena
