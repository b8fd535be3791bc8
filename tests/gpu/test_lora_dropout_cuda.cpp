// The seeded dropout's CUDA kernel against its CPU path (the same mask and values, bit for bit),
// lora_down's gradients on CUDA against the CPU, and the MLP's GeGLU + LoRA-down node against the
// separate ops on CUDA (fused GeGLU kernels, bf16). Needs a GPU: label `gpu` (CI skips it).
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "model/config.h"
#include "model/geglu_lora_down.h"
#include "model/lora_dropout.h"
#include "model/mlp.h"

namespace arena {
namespace {

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
    auto x = x0.to(d).requires_grad_(true);
    auto a = a0.to(d).requires_grad_(true);
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
  Gemma2Config c;
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
