// TensorBoard event files (launch/event_file.h): the CRC-32C check value, the masked-CRC framing of
// one record checked byte by byte against the format's definition, the histogram buckets, and the
// tags a metrics.jsonl record becomes (launch/tb_scalars.h). The end-to-end check with
// TensorBoard's own reader is tests/launch/tensorboard_check.py.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include "common/error.h"
#include "launch/event_file.h"
#include "launch/tb_scalars.h"

namespace arena {
namespace {

uint64_t le(const std::string& s, size_t at, int bytes) {
  uint64_t v = 0;
  for (int i = bytes - 1; i >= 0; --i) v = (v << 8) | static_cast<unsigned char>(s[at + static_cast<size_t>(i)]);
  return v;
}

TEST(Crc32c, CheckValue) {
  // The CRC-32C check value of the catalogue of parametrised CRCs (CRC-32/ISCSI).
  EXPECT_EQ(crc32c("123456789", 9), 0xE3069283u);
  EXPECT_EQ(crc32c("", 0), 0u);
}

TEST(Crc32c, Masked) {
  const uint32_t c = 0xE3069283u;
  EXPECT_EQ(masked_crc32c("123456789", 9), static_cast<uint32_t>(((c >> 15) | (c << 17)) + 0xa282ead8u));
}

TEST(TfRecord, FramingOfOneRecord) {
  const std::string payload = "hello event";
  const auto r = tfrecord(payload);
  ASSERT_EQ(r.size(), 8 + 4 + payload.size() + 4);
  EXPECT_EQ(le(r, 0, 8), payload.size());
  EXPECT_EQ(le(r, 8, 4), masked_crc32c(r.data(), 8));
  EXPECT_EQ(r.substr(12, payload.size()), payload);
  EXPECT_EQ(le(r, 12 + payload.size(), 4), masked_crc32c(payload.data(), payload.size()));
  // The length's CRC, computed by hand for an 11-byte record: the 8 bytes 0b 00 .. 00.
  const unsigned char len[8] = {11, 0, 0, 0, 0, 0, 0, 0};
  EXPECT_EQ(le(r, 8, 4), masked_crc32c(len, 8));
}

TEST(Histogram, EqualWidthBuckets) {
  const auto h = histogram_of({0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, 5);
  EXPECT_EQ(h.min, 0);
  EXPECT_EQ(h.max, 10);
  EXPECT_EQ(h.num, 11);
  EXPECT_EQ(h.sum, 55);
  EXPECT_EQ(h.sum_squares, 385);
  ASSERT_EQ(h.limits, (std::vector<double>{2, 4, 6, 8, 10}));
  // (.., 2] holds 0, 1, 2; (2, 4] holds 3, 4; ...
  EXPECT_EQ(h.counts, (std::vector<double>{3, 2, 2, 2, 2}));
}

TEST(Histogram, OneValueOneBucketAndNonFiniteLeftOut) {
  const auto h = histogram_of({0.5, 0.5, std::nan(""), 0.5});
  EXPECT_EQ(h.num, 3);
  EXPECT_EQ(h.limits, (std::vector<double>{0.5}));
  EXPECT_EQ(h.counts, (std::vector<double>{3}));
  EXPECT_THROW(histogram_of({std::nan("")}), Error);
}

TEST(TbScalars, TagsAndSteps) {
  const auto train = tb_scalars(nlohmann::json{{"kind", "train"}, {"step", 7}, {"loss", 0.5}, {"lr", 1e-3}}, 0);
  EXPECT_EQ(train.step, 7);
  ASSERT_EQ(train.values.size(), 2u);
  EXPECT_EQ(train.values[0], (std::pair<std::string, double>{"train/loss", 0.5}));
  EXPECT_EQ(train.values[1], (std::pair<std::string, double>{"train/lr", 1e-3}));

  const auto eval = tb_scalars(nlohmann::json{{"kind", "eval"}, {"split", "val"}, {"step", 3}, {"accuracy", 0.75}}, 0);
  ASSERT_EQ(eval.values.size(), 1u);
  EXPECT_EQ(eval.values[0].first, "val/accuracy");

  const auto skip = tb_scalars(nlohmann::json{{"kind", "skip"}, {"step", 2}, {"skipped_steps", 1}}, 1);
  EXPECT_EQ(skip.values.at(0).first, "train/skipped_steps");

  const auto start = tb_scalars(nlohmann::json{{"kind", "start"}, {"resumed_at", 4}, {"device", "cpu"}}, 0);
  EXPECT_EQ(start.step, 4);
  EXPECT_EQ(start.values.at(0).first, "run/resumed_at");
  EXPECT_EQ(start.values.size(), 1u);  // strings are not scalars

  // No step of its own: the previous record's. Nested objects and arrays flatten.
  const auto base = tb_scalars(
      nlohmann::json{{"kind", "baselines"}, {"split", "test"}, {"label_prior", {{"probabilities", {0.4, 0.6}}}}}, 9);
  EXPECT_EQ(base.step, 9);
  ASSERT_EQ(base.values.size(), 2u);
  EXPECT_EQ(base.values[1].first, "test/baselines/label_prior/probabilities/1");
}

TEST(EventFile, WritesFramedRecordsAndNamesAnUnwritableDirectory) {
  const auto dir = std::filesystem::temp_directory_path() / "arena_test_tensorboard";
  std::filesystem::remove_all(dir);
  std::string path;
  {
    EventFile f(dir.string());
    path = f.path();
    f.scalars({{"train/loss", 0.25}}, 1);
    f.histogram("h", histogram_of({1, 2, 3}), 1);
  }
  EXPECT_NE(std::filesystem::path(path).filename().string().find("events.out.tfevents."), std::string::npos);
  std::ifstream in(path, std::ios::binary);
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  size_t at = 0, records = 0;
  while (at < bytes.size()) {
    ASSERT_LE(at + 12, bytes.size());
    const auto n = le(bytes, at, 8);
    EXPECT_EQ(le(bytes, at + 8, 4), masked_crc32c(bytes.data() + at, 8));
    ASSERT_LE(at + 16 + n, bytes.size());
    EXPECT_EQ(le(bytes, at + 12 + n, 4), masked_crc32c(bytes.data() + at + 12, n));
    at += 16 + n;
    ++records;
  }
  EXPECT_EQ(records, 3u);  // file_version, the scalar, the histogram
  EXPECT_NE(bytes.find("brain.Event:2"), std::string::npos);
  {
    EventFile second(dir.string());  // a resumed run: a file of its own beside the first
    EXPECT_NE(second.path(), path);
  }

  // A regular file where the directory should be: the error names the path.
  const auto blocked = dir / "not_a_dir";
  std::ofstream(blocked) << "x";
  try {
    EventFile f((blocked / "tensorboard").string());
    FAIL() << "expected an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find((blocked / "tensorboard").string()), std::string::npos) << e.what();
  }
  std::filesystem::remove_all(dir);
}

}  // namespace
}  // namespace arena
