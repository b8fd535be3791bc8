// The seeded dropout's CUDA kernel against its CPU path (the same mask and values, bit for bit),
// and lora_down's gradients on CUDA against the CPU. Needs a GPU: label `gpu` (CI skips it).
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "model/lora_dropout.h"

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

}  // namespace
}  // namespace arena
