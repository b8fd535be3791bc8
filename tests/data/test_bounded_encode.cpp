// Bounded work per row: a turn tokenized only at its ends gives the ids of the whole turn's
// tokenization, on every row of the real data (every long turn forced through the windows) and on
// generated long turns whose window cuts fall inside multi-byte characters.
#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <limits>
#include <string>

#include "data/encode.h"
#include "data/reader.h"
#include "data/tokenizer.h"
#include "test_support.h"

namespace arena {
namespace {

constexpr size_t kAlways = 0;                                    // every turn over the windows goes through them
constexpr size_t kNever = std::numeric_limits<size_t>::max();    // every turn tokenized whole (the reference)

const Tokenizer& tokenizer() {
  static const Tokenizer tok((testing::shared_dir() / "gemma" / "tokenizer.model").string());
  return tok;
}

// Rows whose turns were windowed, after checking every row's ids against the whole tokenization.
int64_t compare_file(const std::string& file, int64_t max_len) {
  ReadOptions o;
  o.labels = LabelMode::kThreeClass;
  o.require_labels = false;
  const auto data = read_pairs((testing::shared_dir() / "data" / file).string(), o);
  const PairEncoder whole(tokenizer(), max_len, false, kNever), ends(tokenizer(), max_len, false, kAlways);
  int64_t windowed = 0;
  for (const auto& pair : data.pairs) {
    const auto a = whole.encode(pair), b = ends.encode(pair);
    EXPECT_EQ(a.ids, b.ids) << file << " row " << pair.id;
    EXPECT_EQ(a.estimated_sections, 0);
    windowed += b.estimated_sections > 0;
    if (::testing::Test::HasFailure()) break;
  }
  return windowed;
}

TEST(BoundedEncode, RealRowsKeepTheirIds) {
  // max_len 128: windows of 1,536 bytes, so every turn over 3 KB goes through them.
  int64_t windowed = 0;
  for (const char* file : {"autoj-pairwise.jsonl", "lmsys-arena-train-head1000.csv",
                           "hh-rlhf-helpful-online-test.jsonl.gz"})
    windowed += compare_file(file, 128);
  EXPECT_GT(windowed, 100) << "the windows were hardly used: the comparison shows little";
  std::printf("%lld rows had turns tokenized only at their ends; all ids equal the whole tokenization\n",
              static_cast<long long>(windowed));
}

// A long turn of varied text with 2-, 3- and 4-byte characters everywhere, so window cuts (at
// multiples of (max_len + 64) * 8 bytes) fall inside characters.
std::string long_text(size_t bytes, int salt) {
  const char* const words[] = {"naïve", "café", "日本語の文", "😀", "résumé", "the", "quick", "Ελληνικά", "data,",
                               "über", "🚀🚀", "42", "Straße", "\n\n", "—", "token", "мир", "éé"};
  std::string out;
  uint64_t x = 0x9E3779B97F4A7C15ULL * static_cast<uint64_t>(salt + 1);
  while (out.size() < bytes) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;
    out += words[x % (sizeof(words) / sizeof(words[0]))];
    out += x % 3 ? " " : "";
  }
  return out;
}

TEST(BoundedEncode, LongMultibyteTurnsKeepTheirIdsAndEstimateTheirLength) {
  const PairEncoder whole(tokenizer(), 512, false, kNever), ends(tokenizer(), 512, false, kAlways);
  for (int salt = 0; salt < 12; ++salt) {
    Pair pair;
    pair.id = "long-" + std::to_string(salt);
    pair.prompt = {long_text(2000 + 37 * salt, salt), long_text(30000 + 4001 * salt, salt + 100)};
    pair.response_a = {long_text(200000 + 13 * salt, salt + 200), "short"};
    pair.response_b = {"a", long_text(90000 + 7 * salt, salt + 300)};
    pair.label = kLabelA;
    const auto a = whole.encode(pair), b = ends.encode(pair);
    EXPECT_EQ(a.ids, b.ids) << pair.id;
    EXPECT_EQ(b.estimated_sections, 3) << pair.id;
    EXPECT_NEAR(static_cast<double>(b.tokens_a), static_cast<double>(a.tokens_a), 0.05 * a.tokens_a) << pair.id;
    EXPECT_NEAR(static_cast<double>(b.full_length), static_cast<double>(a.full_length), 0.05 * a.full_length);
  }
}

TEST(BoundedEncode, WorkPerRowIsBounded) {
  // A 20 MB answer costs about what a 64 KB one does with the default encoder.
  const PairEncoder encoder(tokenizer(), 1900);
  Pair pair;
  pair.id = "huge";
  pair.prompt = {"Which is better?"};
  pair.response_a = {long_text(20'000'000, 7)};
  pair.response_b = {"b"};
  const auto t0 = std::chrono::steady_clock::now();
  const auto e = encoder.encode(pair);
  const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  EXPECT_EQ(static_cast<int64_t>(e.ids.size()), 1900);
  EXPECT_EQ(e.estimated_sections, 1);
  EXPECT_LT(s, 2.0) << "encoding a 20 MB turn took " << s << " s";
}

}  // namespace
}  // namespace arena
