// normal_init_ (model/nn/normal_init.h): bf16 and fp16 tensors get their fp32 twin's draws rounded,
// across its chunks, and so a whole classifier built in bf16 starts from the fp32 one's weights,
// including the score head drawn after every layer.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "model/gemma/classifier.h"
#include "model/gemma/config.h"
#include "model_support.h"
#include "model/nn/normal_init.h"

namespace arena {
namespace {

TEST(NormalInit, ReducedPrecisionGetsTheFp32DrawsRounded) {
  // Three chunks and an odd tail (a multiple of 16 overall, as every weight of these models).
  const int64_t n = 3 * (int64_t{1} << 20) + 4096 + 48;
  for (const auto dtype : {torch::kBFloat16, torch::kHalf}) {
    torch::manual_seed(7);
    auto ref = torch::empty({n}, torch::kFloat32);
    normal_init_(ref, 0.02);
    torch::manual_seed(7);
    auto low = torch::empty({n}, dtype);
    normal_init_(low, 0.02);
    EXPECT_TRUE(torch::equal(low, ref.to(dtype))) << dtype;
    // and the generator is left where one fp32 draw of the whole leaves it
    const auto after_low = torch::randn({4});
    torch::manual_seed(7);
    ref.normal_(0.0, 0.02);
    EXPECT_TRUE(torch::equal(torch::randn({4}), after_low)) << dtype;
  }
  auto t = torch::empty({16, 4}, torch::kFloat32);
  normal_init_(t, 1.0);
  EXPECT_GT(t.std().item<double>(), 0.3);
}

TEST(NormalInit, ClassifierInBf16StartsFromTheFp32Weights) {
  const auto c = testing::small_gemma2_config(2, 64, 2, 1, 32, 512);
  torch::manual_seed(3);
  GemmaClassifier f32(c, torch::TensorOptions().dtype(torch::kFloat32));
  torch::manual_seed(3);
  GemmaClassifier b16(c, torch::TensorOptions().dtype(torch::kBFloat16));
  const auto a = f32->named_parameters();
  const auto b = b16->named_parameters();
  ASSERT_EQ(a.size(), b.size());
  for (const auto& p : a) {
    const auto& q = b[p.key()];
    EXPECT_TRUE(torch::equal(q, p.value().to(torch::kBFloat16))) << p.key();
  }
}

}  // namespace
}  // namespace arena
