#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "common/error.h"
#include "model/io/safetensors.h"
#include "test_support.h"

namespace arena {
namespace {

namespace fs = std::filesystem;

void expect_error(const std::function<void()>& fn, const std::string& needle1, const std::string& needle2 = "") {
  try {
    fn();
    FAIL() << "expected arena::Error mentioning '" << needle1 << "'";
  } catch (const Error& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find(needle1), std::string::npos) << what;
    if (!needle2.empty()) EXPECT_NE(what.find(needle2), std::string::npos) << what;
  }
}

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_bytes(const std::string& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

// A raw file: 8-byte length + header text + data bytes.
std::string raw_file(const std::string& header, const std::string& data) {
  std::string out(8, '\0');
  uint64_t n = header.size();
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((n >> (8 * i)) & 0xff);
  return out + header + data;
}

TEST(Safetensors, RoundTripsEveryDtypeZeroCopy) {
  testing::TempDir dir;
  const auto path = dir / "t.safetensors";
  const auto f32 = torch::randn({3, 5});
  const auto bf16 = torch::randn({4}).to(torch::kBFloat16);
  const auto f16 = torch::randn({2, 2}).to(torch::kFloat16);
  const auto u8 = torch::arange(10, torch::kUInt8);
  const auto i64 = torch::tensor({-1, 7}, torch::kInt64);
  const auto strided = torch::randn({4, 6}).t();  // non-contiguous input is written densely
  save_safetensors(path, {{"a.f32", f32}, {"b.bf16", bf16}, {"c.f16", f16}, {"d.u8", u8}, {"e.i64", i64},
                          {"f.strided", strided}},
                   {{"format", "pt"}});
  EXPECT_FALSE(fs::exists(path + ".tmp"));
  const auto file = SafetensorsFile::open(path);
  EXPECT_EQ(file->metadata().at("format"), "pt");
  EXPECT_TRUE(torch::equal(file->tensor("a.f32"), f32));
  EXPECT_TRUE(torch::equal(file->tensor("b.bf16"), bf16));
  EXPECT_TRUE(torch::equal(file->tensor("c.f16"), f16));
  EXPECT_TRUE(torch::equal(file->tensor("d.u8"), u8));
  EXPECT_TRUE(torch::equal(file->tensor("e.i64"), i64));
  EXPECT_TRUE(torch::equal(file->tensor("f.strided"), strided));
  EXPECT_EQ(file->tensor("b.bf16").scalar_type(), torch::kBFloat16);
}

TEST(Safetensors, ViewsOutliveTheFileObject) {
  testing::TempDir dir;
  const auto path = dir / "t.safetensors";
  const auto x = torch::randn({16});
  save_safetensors(path, {{"x", x}});
  torch::Tensor view;
  {
    auto file = SafetensorsFile::open(path);
    view = file->tensor("x");
  }  // the mapping stays alive while `view` does
  EXPECT_TRUE(torch::equal(view, x));
}

TEST(Safetensors, ReadsTheHuggingFaceShardedIndex) {
  // Written by transformers' save_pretrained(max_shard_size=...) in the fixture generator.
  const auto dir = (testing::fixture_dir() / "gemma2" / "gqa4l" / "model").string();
  SafetensorsCheckpoint ckpt(dir);
  EXPECT_TRUE(ckpt.contains("model.layers.3.mlp.down_proj.weight"));
  EXPECT_NE(ckpt.file_of("model.embed_tokens.weight"), ckpt.file_of("model.layers.3.mlp.down_proj.weight"));
  EXPECT_EQ(ckpt.shape_of("model.embed_tokens.weight"), (std::vector<int64_t>{320, 40}));
  EXPECT_EQ(ckpt.tensor("model.norm.weight").numel(), 40);
}

TEST(Safetensors, TruncatedFileIsAnErrorNamingFileAndTensor) {
  testing::TempDir dir;
  const auto good = dir / "good.safetensors";
  save_safetensors(good, {{"w", torch::randn({64, 64})}});
  const auto bytes = read_bytes(good);
  const auto cut = dir / "cut.safetensors";
  write_bytes(cut, bytes.substr(0, bytes.size() - 100));
  expect_error([&] { SafetensorsFile::open(cut); }, cut, "'w'");
  write_bytes(cut, bytes.substr(0, 5));
  expect_error([&] { SafetensorsFile::open(cut); }, cut, "too short");
  write_bytes(cut, bytes.substr(0, 20));
  expect_error([&] { SafetensorsFile::open(cut); }, cut, "header length");
}

TEST(Safetensors, MalformedHeadersAreErrors) {
  testing::TempDir dir;
  const auto p = dir / "bad.safetensors";
  write_bytes(p, raw_file("{not json", ""));
  expect_error([&] { SafetensorsFile::open(p); }, p, "not valid JSON");
  write_bytes(p, raw_file(R"({"w":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}})", std::string(8, '\0')));
  expect_error([&] { SafetensorsFile::open(p); }, "'w'", "expected 8");
  write_bytes(p, raw_file(R"({"w":{"dtype":"Q4","shape":[2],"data_offsets":[0,1]}})", std::string(1, '\0')));
  expect_error([&] { SafetensorsFile::open(p); }, "'w'", "unsupported dtype");
  write_bytes(p, raw_file(R"({"a":{"dtype":"U8","shape":[4],"data_offsets":[0,4]},
                              "b":{"dtype":"U8","shape":[4],"data_offsets":[2,6]}})",
                          std::string(6, '\0')));
  expect_error([&] { SafetensorsFile::open(p); }, p, "overlap");
  write_bytes(p, raw_file(R"({"w":{"dtype":"U8","shape":[4]}})", std::string(4, '\0')));
  expect_error([&] { SafetensorsFile::open(p); }, "'w'", "data_offsets");
  // Numbers beyond 64 bits parse as JSON floats: an error, not an undefined cast (found by fuzzing;
  // the input is in tests/fuzz/regressions/safetensors/). A whole float is read as its integer.
  write_bytes(p, raw_file(R"({"w":{"dtype":"U8","shape":[1e27],"data_offsets":[0,4]}})", std::string(4, '\0')));
  expect_error([&] { SafetensorsFile::open(p); }, "'w' shape entry is 1e+27", "expected an integer");
  write_bytes(p, raw_file(R"({"w":{"dtype":"U8","shape":[4],"data_offsets":[0,4.5]}})", std::string(4, '\0')));
  expect_error([&] { SafetensorsFile::open(p); }, "'w' data_offsets entry is 4.5", "expected an integer");
  write_bytes(p, raw_file(R"({"w":{"dtype":"U8","shape":[4.0],"data_offsets":[0,4]}})", std::string(4, '\0')));
  EXPECT_EQ(SafetensorsFile::open(p)->entries().at("w").shape, std::vector<int64_t>{4});
  expect_error([&] { SafetensorsFile::open(dir / "absent.safetensors"); }, "absent.safetensors", "cannot open");
}

TEST(Safetensors, IndexPointingAtMissingShardIsAnError) {
  testing::TempDir dir;
  write_bytes(dir / "model.safetensors.index.json", R"({"weight_map":{"w":"model-00001-of-00002.safetensors"}})");
  expect_error([&] { SafetensorsCheckpoint ckpt(dir.path().string()); }, "model-00001-of-00002", "'w'");
}

}  // namespace
}  // namespace arena
