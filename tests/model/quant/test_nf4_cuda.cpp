// CUDA NF4 kernels against the CPU reference, bit for bit. Needs a GPU: label `gpu` (CI skips it).
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "model/io/safetensors.h"
#include "model/quant/nf4.h"
#include "model/quant/nf4_cuda.h"
#include "test_support.h"

namespace arena {
namespace {

class Nf4Cuda : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(nf4_cuda_compiled()) << "this build has no CUDA kernels";
    ASSERT_TRUE(torch::cuda::is_available()) << "no CUDA device: run the gpu label on a GPU machine";
  }
};

void expect_same(const Nf4Weight& cpu, const Nf4Weight& gpu) {
  EXPECT_TRUE(torch::equal(cpu.packed, gpu.packed.cpu()));
  if (cpu.nested) {
    EXPECT_TRUE(torch::equal(cpu.qabsmax, gpu.qabsmax.cpu()));
    EXPECT_TRUE(torch::equal(cpu.nested_absmax, gpu.nested_absmax.cpu()));
    EXPECT_EQ(cpu.offset, gpu.offset);
  } else {
    EXPECT_TRUE(torch::equal(cpu.absmax, gpu.absmax.cpu()));
  }
}

TEST_F(Nf4Cuda, QuantizeAndDequantizeAreBitExactWithTheCpuReference) {
  torch::manual_seed(0);
  const auto fixture = SafetensorsFile::open((testing::fixture_dir() / "nf4" / "bnb_nf4.safetensors").string());
  std::vector<torch::Tensor> weights{
      torch::randn({512, 256}),
      (torch::randn({2048, 2304}) * 0.02).to(torch::kBFloat16),  // Gemma-2-2B q_proj shape
      (torch::randn({9216, 2304}) * 0.02).to(torch::kBFloat16),  // gate/up_proj shape
      fixture->tensor("edges.weight").clone(),
      fixture->tensor("heavy_tails.weight").clone(),
  };
  for (const auto& w : weights) {
    for (const bool dq : {false, true}) {
      const auto cpu = nf4_quantize(w, dq);
      const auto gpu = nf4_cuda_quantize(w.cuda(), dq);
      expect_same(cpu, gpu);
      for (const auto dtype : {torch::kFloat32, torch::kBFloat16, torch::kFloat16}) {
        const auto ref = nf4_dequantize(cpu, dtype);
        const auto out = nf4_dequantize(cpu.to(torch::kCUDA), dtype).cpu();
        EXPECT_TRUE(torch::equal(ref, out)) << w.sizes() << " dq=" << dq << " " << dtype;
      }
    }
  }
}

}  // namespace
}  // namespace arena
