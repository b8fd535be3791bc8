// gguf_dequantize against the `gguf` Python package (0.19): tests/fixtures/gguf/quants/<TYPE>.bin
// holds raw blocks, <TYPE>.f32 what gguf.quants.dequantize made of them (gen_gguf_fixtures.py).
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

#include "common/error.h"
#include "model/quant/gguf_quants.h"
#include "test_support.h"

namespace arena {
namespace {

std::vector<uint8_t> read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  EXPECT_TRUE(in.good()) << "cannot open " << path << " (run tests/fixtures/gen_gguf_fixtures.py)";
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

uint32_t bits_of(float f) {
  uint32_t b;
  std::memcpy(&b, &f, sizeof b);
  return b;
}

// F32/F16/BF16 are bit moves: NaN payloads must survive. The block types compute, and a NaN an
// operation produces (Inf·0, Inf − Inf) has the CPU's payload, so there both being NaN is enough.
bool is_bit_move(GgmlType t) { return t == GgmlType::F32 || t == GgmlType::F16 || t == GgmlType::BF16; }

class GgufDequantize : public ::testing::TestWithParam<GgmlType> {};

TEST_P(GgufDequantize, MatchesGgufPackageBitForBit) {
  const GgmlType type = GetParam();
  const std::string name = ggml_type_name(type);
  const std::string base = (testing::fixture_dir() / "gguf" / "quants" / name).string();
  const std::vector<uint8_t> raw = read_file(base + ".bin");
  const std::vector<uint8_t> expected_bytes = read_file(base + ".f32");
  ASSERT_FALSE(expected_bytes.empty());
  ASSERT_EQ(expected_bytes.size() % 4, 0u);
  const size_t n = expected_bytes.size() / 4;
  ASSERT_EQ(ggml_n_bytes(type, n), raw.size()) << name;
  std::vector<float> expected(n);
  std::memcpy(expected.data(), expected_bytes.data(), expected_bytes.size());

  std::vector<float> out(n, -12345.0f);
  gguf_dequantize(type, raw.data(), n, out.data());
  size_t mismatches = 0, nans = 0;
  for (size_t i = 0; i < n; ++i) {
    const bool both_nan = std::isnan(out[i]) && std::isnan(expected[i]);
    nans += both_nan;
    const bool same = bits_of(out[i]) == bits_of(expected[i]) || (both_nan && !is_bit_move(type));
    if (!same && ++mismatches <= 5)
      ADD_FAILURE() << name << " element " << i << " (block " << i / ggml_traits(type).block_size << "): got bits 0x"
                    << std::hex << bits_of(out[i]) << " (" << out[i] << "), expected 0x" << bits_of(expected[i])
                    << " (" << expected[i] << ")" << std::dec;
  }
  EXPECT_EQ(mismatches, 0u) << name << ": " << mismatches << " of " << n << " values differ";
  RecordProperty("nan_values", static_cast<int>(nans));
}

TEST_P(GgufDequantize, UnalignedInputGivesTheSameValues) {
  // Tensors in a mapped file are aligned, but a block's own fields are not (Q8_0 is 34 bytes):
  // decoding from an odd address must not change anything (and must not trip UBSan).
  const GgmlType type = GetParam();
  const std::string base = (testing::fixture_dir() / "gguf" / "quants" / ggml_type_name(type)).string();
  const std::vector<uint8_t> raw = read_file(base + ".bin");
  const size_t n = read_file(base + ".f32").size() / 4;
  std::vector<uint8_t> shifted(raw.size() + 1);
  std::memcpy(shifted.data() + 1, raw.data(), raw.size());
  std::vector<float> a(n), b(n);
  gguf_dequantize(type, raw.data(), n, a.data());
  gguf_dequantize(type, shifted.data() + 1, n, b.data());
  EXPECT_EQ(std::memcmp(a.data(), b.data(), n * sizeof(float)), 0);
}

INSTANTIATE_TEST_SUITE_P(AllTypes, GgufDequantize, ::testing::ValuesIn(gguf_dequantizable_types()),
                         [](const ::testing::TestParamInfo<GgmlType>& p) { return ggml_type_name(p.param); });

TEST(GgufQuants, SupportsExactlyTheListedTypes) {
  std::vector<std::string> names;
  for (GgmlType t : gguf_dequantizable_types()) names.push_back(ggml_type_name(t));
  EXPECT_EQ(names, (std::vector<std::string>{"F32", "F16", "Q4_0", "Q4_1", "Q5_0", "Q5_1", "Q8_0", "Q4_K", "Q5_K",
                                             "Q6_K", "BF16"}));
}

TEST(GgufQuants, TypeTableMatchesGgml) {
  // A few sizes from gguf.constants.GGML_QUANT_SIZES.
  EXPECT_EQ(ggml_traits(GgmlType::Q4_K).block_size, 256u);
  EXPECT_EQ(ggml_traits(GgmlType::Q4_K).type_size, 144u);
  EXPECT_EQ(ggml_traits(GgmlType::Q5_K).type_size, 176u);
  EXPECT_EQ(ggml_traits(GgmlType::Q6_K).type_size, 210u);
  EXPECT_EQ(ggml_traits(GgmlType::Q2_K).type_size, 84u);
  EXPECT_EQ(ggml_traits(GgmlType::IQ4_XS).type_size, 136u);
  EXPECT_EQ(ggml_traits(GgmlType::Q8_0).type_size, 34u);
  EXPECT_EQ(ggml_n_bytes(GgmlType::Q5_0, 64), 44u);
  EXPECT_EQ(ggml_n_bytes(GgmlType::BF16, 3), 6u);
  EXPECT_EQ(ggml_type_traits(4), nullptr);   // removed Q4_2
  EXPECT_EQ(ggml_type_traits(31), nullptr);  // removed Q4_0_4_4
  EXPECT_EQ(ggml_type_traits(999), nullptr);
  EXPECT_EQ(ggml_type_name(static_cast<GgmlType>(999)), "unknown ggml type 999");
  EXPECT_THROW(ggml_n_bytes(GgmlType::Q4_K, 100), Error);
}

void expect_error(GgmlType type, size_t n, const std::string& needle) {
  std::vector<uint8_t> data(4096, 0);
  std::vector<float> out(4096);
  try {
    gguf_dequantize(type, data.data(), n, out.data());
    ADD_FAILURE() << "expected arena::Error mentioning '" << needle << "'";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(needle), std::string::npos) << e.what();
  }
}

TEST(GgufQuants, UnsupportedTypeThrowsNamingIt) {
  expect_error(GgmlType::Q2_K, 256, "Q2_K");
  expect_error(GgmlType::Q3_K, 256, "Q3_K");
  expect_error(GgmlType::IQ2_XXS, 256, "IQ2_XXS");
  expect_error(GgmlType::IQ4_NL, 32, "IQ4_NL");
  expect_error(GgmlType::I32, 4, "I32");
  expect_error(static_cast<GgmlType>(77), 1, "unknown ggml type 77");
}

TEST(GgufQuants, PartialBlockThrows) {
  expect_error(GgmlType::Q4_K, 255, "Q4_K");
  expect_error(GgmlType::Q8_0, 33, "32-element blocks");
}

TEST(GgufQuants, Fp16ConversionEdges) {
  EXPECT_EQ(bits_of(fp16_to_fp32(0x3C00)), bits_of(1.0f));
  EXPECT_EQ(bits_of(fp16_to_fp32(0xC000)), bits_of(-2.0f));
  EXPECT_EQ(bits_of(fp16_to_fp32(0x8000)), 0x80000000u);
  EXPECT_EQ(fp16_to_fp32(0x0001), std::ldexp(1.0f, -24));  // smallest subnormal
  EXPECT_EQ(fp16_to_fp32(0x7BFF), 65504.0f);
  EXPECT_EQ(bits_of(fp16_to_fp32(0x7C00)), 0x7F800000u);
  EXPECT_EQ(bits_of(fp16_to_fp32(0x7C01)), 0x7F802000u);  // signalling NaN stays signalling
}

}  // namespace
}  // namespace arena
