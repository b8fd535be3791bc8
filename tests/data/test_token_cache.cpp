// The HDF5 token cache: round trip, invalidation, and corrupt files.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "common/error.h"
#include "data/token_cache.h"
#include "test_support.h"

namespace arena {
namespace {

const Tokenizer& gemma() {
  static Tokenizer tok((testing::shared_dir() / "gemma" / "tokenizer.model").string());
  return tok;
}

TEST(TokenCache, RoundTripsAndIsInvalidatedByMaxLenAndSource) {
  testing::TempDir dir;
  const auto source = dir / "pairs.csv";
  std::filesystem::copy_file(testing::shared_dir() / "data" / "lmsys-arena-train-sample.csv", source);
  const ReadOptions o;
  const auto data = read_pairs(source, o);
  const PairEncoder enc(gemma(), 512);
  const auto tokens = tokenize(data, enc);
  const auto key = cache_key(source, o, data.format, enc);
  const auto cache = dir / "tokens.h5";
  save_token_cache(cache, tokens, key);
  EXPECT_FALSE(std::filesystem::exists(cache + ".tmp"));

  TokenizedData back;
  ASSERT_TRUE(load_token_cache(cache, key, back));
  EXPECT_EQ(back.ids, tokens.ids);
  EXPECT_EQ(back.offsets, tokens.offsets);
  EXPECT_EQ(back.labels, tokens.labels);
  EXPECT_EQ(back.full_length, tokens.full_length);
  EXPECT_EQ(back.row_ids, tokens.row_ids);

  const PairEncoder longer(gemma(), 1900);
  EXPECT_FALSE(load_token_cache(cache, cache_key(source, o, data.format, longer), back));  // max_len changed
  ReadOptions binary = o;
  binary.labels = LabelMode::kBinary;
  EXPECT_FALSE(load_token_cache(cache, cache_key(source, binary, data.format, enc), back));  // labels changed
  std::ofstream(source, std::ios::app) << "\n";
  EXPECT_FALSE(load_token_cache(cache, cache_key(source, o, data.format, enc), back));  // source changed
  EXPECT_FALSE(load_token_cache(dir / "absent.h5", key, back));
}

TEST(TokenCache, CorruptFileIsAnErrorNamingIt) {
  testing::TempDir dir;
  const auto bad = dir / "bad.h5";
  std::ofstream(bad) << "not hdf5";
  TokenizedData out;
  try {
    load_token_cache(bad, CacheKey{}, out);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(bad), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace arena
