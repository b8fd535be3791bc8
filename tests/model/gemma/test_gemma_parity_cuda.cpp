// The Gemma classifier on CUDA in bf16 (fused RMSNorm, also on Gemma-3's per-head q/k norms,
// fused rotary with one table per attention type, the fused attention core with and without the
// soft-cap) against transformers' bf16 reference, with the same per-tensor bound as the CPU test:
// logits, loss and every gradient. Needs a GPU: label `gpu` (CI skips it).
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <iostream>
#include <string>

#include "model/gemma/parity_support.h"
#include "model/io/loader.h"
#include "model/nn/fused_ops.h"
#include "test_support.h"

namespace arena {
namespace {

class GemmaParityCuda : public ::testing::TestWithParam<std::string> {};

TEST_P(GemmaParityCuda, BFloat16WithinReferenceRoundingNoise) {
  ASSERT_TRUE(torch::cuda::is_available());
  const auto dir = testing::fixture_dir() / GetParam();
  const testing::Reference ref{SafetensorsFile::open((dir / "reference.safetensors").string())};
  auto model = load_gemma_classifier((dir / "model").string(), torch::kBFloat16, torch::Device(torch::kCUDA, 0));
  const auto x = torch::zeros({1, 4, 16}, torch::TensorOptions().device(torch::kCUDA).dtype(torch::kBFloat16));
  ASSERT_TRUE(use_fused_elementwise(x)) << "the fused kernels must be what is tested";
  const auto r = testing::run_model(*model, ref);
  double worst = 0;
  const auto check = [&](const torch::Tensor& ours, const std::string& key, const std::string& f32_key) {
    const double err = testing::rel_error(ours, ref.get(key));
    const double bound = testing::bf16_bound(ref.get(key), ref.get(f32_key));
    EXPECT_LE(err, bound) << key;
    worst = std::max(worst, err / bound);
  };
  check(r.logits, "logits.bf16", "logits.f32");
  check(r.loss, "loss.bf16", "loss.f32");
  ASSERT_FALSE(r.grads.empty());
  for (const auto& [name, g] : r.grads) check(g, "grad.bf16." + name, "grad.f32." + name);
  std::cout << GetParam() << " cuda bf16: worst err/bound " << worst << "\n";
}

INSTANTIATE_TEST_SUITE_P(Fixtures, GemmaParityCuda,
                         ::testing::Values("gemma2/gqa2l", "gemma2/gqa4l", "gemma3/g3_4l", "gemma3/g3_scaled"),
                         [](const auto& info) { return info.param.substr(info.param.find('/') + 1); });

}  // namespace
}  // namespace arena
