// NF4 against bitsandbytes (fixtures: tests/fixtures/gen_nf4_fixtures.py) and its error bound.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <string>

#include "model/io/safetensors.h"
#include "model/quant/nf4.h"
#include "model/quant/quant8.h"
#include "test_support.h"

namespace arena {
namespace {

std::shared_ptr<SafetensorsFile> bnb() {
  return SafetensorsFile::open((testing::fixture_dir() / "nf4" / "bnb_nf4.safetensors").string());
}

TEST(Nf4, CodebookAndDynamicMapAreBitIdenticalToBitsandbytes) {
  const auto f = bnb();
  EXPECT_TRUE(torch::equal(torch::from_blob(const_cast<float*>(kNf4Code), {16}, torch::kFloat32),
                           f->tensor("nf4_code")));
  EXPECT_TRUE(torch::equal(dynamic_map_8bit(), f->tensor("dynamic_map")));
}

TEST(Quant8, BlockwiseCodesAreBitExactOverEightDecades) {
  const auto f = bnb();
  const auto q = quant8_quantize(f->tensor("q8.input"), 256);
  EXPECT_TRUE(torch::equal(q.absmax, f->tensor("q8.absmax")));
  const auto ref = f->tensor("q8.codes");
  const auto differ = (q.codes != ref).sum().item<int64_t>();
  EXPECT_EQ(differ, 0) << "of " << ref.numel() << " codes";
}

class Nf4Bnb : public ::testing::TestWithParam<std::string> {};

TEST_P(Nf4Bnb, PackingAndStatisticsAreBitExact) {
  const auto f = bnb();
  const auto& c = GetParam();
  const auto w = f->tensor(c + ".weight");
  const auto plain = nf4_quantize(w, /*double_quant=*/false);
  EXPECT_TRUE(torch::equal(plain.packed, f->tensor(c + ".dq0.packed"))) << c;
  EXPECT_TRUE(torch::equal(plain.absmax, f->tensor(c + ".dq0.absmax"))) << c;

  const auto dq = nf4_quantize(w, /*double_quant=*/true);
  EXPECT_TRUE(torch::equal(dq.packed, f->tensor(c + ".dq1.packed"))) << c;
  EXPECT_TRUE(torch::equal(dq.qabsmax, f->tensor(c + ".dq1.absmax"))) << c;
  EXPECT_TRUE(torch::equal(dq.nested_absmax, f->tensor(c + ".dq1.nested_absmax"))) << c;
  EXPECT_EQ(dq.offset, f->tensor(c + ".dq1.offset").item<float>()) << c;
  EXPECT_TRUE(torch::equal(dq.nested_map, f->tensor(c + ".dq1.nested_map"))) << c;
}

TEST_P(Nf4Bnb, DequantizationIsBitExact) {
  const auto f = bnb();
  const auto& c = GetParam();
  const auto w = f->tensor(c + ".weight");
  for (const bool double_quant : {false, true}) {
    const auto q = nf4_quantize(w, double_quant);
    const auto ours = nf4_dequantize(q, w.scalar_type());
    const auto ref = f->tensor(c + (double_quant ? ".dq1" : ".dq0") + ".dequant");
    EXPECT_EQ(ours.sizes(), ref.sizes());
    EXPECT_TRUE(torch::equal(ours, ref)) << c << " double_quant=" << double_quant;
  }
}

INSTANTIATE_TEST_SUITE_P(Fixtures, Nf4Bnb,
                         ::testing::Values("gauss", "bf16_two_nests", "edges", "partial", "heavy_tails"));

// NF4 error bound: x/absmax lands in [-1, 1] and is rounded to the nearest of 16 codes, so
// |x - x̂| <= absmax · (half the widest code gap) — the widest gap is [-1, -0.696], half 0.1519.
// With double quantization the block scale itself is approximate: add |absmax - absmax̂| · |code|.
void expect_within_nf4_bound(const torch::Tensor& w, bool double_quant) {
  const auto q = nf4_quantize(w, double_quant);
  const auto x = w.to(torch::kFloat32).reshape({-1, 64});
  const auto xhat = nf4_dequantize(q, torch::kFloat32).reshape({-1, 64});
  const auto true_absmax = x.abs().amax(1, true);
  const auto used_absmax = nf4_absmax(q).view({-1, 1});
  float half_gap = 0;
  for (int i = 0; i < 15; ++i) half_gap = std::max(half_gap, (kNf4Code[i + 1] - kNf4Code[i]) / 2);
  // 1e-6 relative slack: fp32 rounding of x * (1/absmax) and of code * absmax.
  const auto bound = (true_absmax * half_gap + (true_absmax - used_absmax).abs()) * (1 + 1e-6) + 1e-12;
  const auto err = (x - xhat).abs();
  EXPECT_TRUE((err <= bound).all().item<bool>()) << "max excess " << (err - bound).max().item<float>();
  // Typical quality, as a sanity check on the codebook: relative RMS error of NF4 on Gaussian
  // weights is about 0.1 (information limit of 4 bits per value plus block scaling).
  const double rel_rms = ((x - xhat).pow(2).mean() / x.pow(2).mean()).sqrt().item<double>();
  EXPECT_LT(rel_rms, 0.12);
}

TEST(Nf4, ErrorWithinBoundOnRandomAndRealShapedWeights) {
  torch::manual_seed(3);
  expect_within_nf4_bound(torch::randn({512, 256}), false);
  expect_within_nf4_bound(torch::randn({512, 256}), true);
  // Gemma-2-2B's q_proj shape, values at its init scale, in bf16 as loaded.
  const auto q_proj = (torch::randn({2048, 2304}) * 0.02).to(torch::kBFloat16);
  expect_within_nf4_bound(q_proj, true);
}

TEST(Nf4, StorageBytesAreExact) {
  const auto w = torch::randn({2048, 2304});
  const auto q = nf4_quantize(w, true);
  const int64_t counted = q.packed.nbytes() + q.qabsmax.nbytes() + q.nested_absmax.nbytes() + q.nested_map.nbytes() + 4;
  EXPECT_EQ(q.storage_bytes(), counted);
  EXPECT_EQ(nf4_storage_bytes(w.numel(), true), counted);
  const auto plain = nf4_quantize(w, false);
  EXPECT_EQ(plain.storage_bytes(), plain.packed.nbytes() + plain.absmax.nbytes());
}

}  // namespace
}  // namespace arena
