// The Gemma tokenizer against golden ids (../shared/gemma, produced by the Hugging Face tokenizer).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <fstream>
#include <string>

#include "common/error.h"
#include "data/tokenizer.h"
#include "test_support.h"

namespace arena {
namespace {

std::string gemma_dir() { return (testing::shared_dir() / "gemma").string(); }

TEST(Tokenizer, GemmaSpecialIds) {
  Tokenizer tok(gemma_dir() + "/tokenizer.model");
  EXPECT_EQ(tok.vocab_size(), 256000);
  EXPECT_EQ(tok.pad_id(), 0);
  EXPECT_EQ(tok.eos_id(), 1);
  EXPECT_EQ(tok.bos_id(), 2);
  EXPECT_EQ(tok.piece_id("<start_of_turn>"), 106);
  EXPECT_EQ(tok.piece_id("<end_of_turn>"), 107);
}

// Every golden line, exactly. goldens-divergent.jsonl holds the by-design HF/SentencePiece
// differences; there SentencePiece's own ids (spm_ids) are the reference.
void expect_goldens(const std::string& file, const char* key, int expected_lines) {
  Tokenizer tok(gemma_dir() + "/tokenizer.model");
  std::ifstream in(file);
  ASSERT_TRUE(in.good()) << file;
  std::string line;
  int n = 0, bad = 0;
  while (std::getline(in, line)) {
    const auto j = nlohmann::json::parse(line);
    const auto want = j.at(key).get<std::vector<int>>();
    const auto got = tok.encode(j.at("text").get<std::string>());
    if (got != want && ++bad <= 5) ADD_FAILURE() << file << " line " << n + 1 << ": ids differ";
    ++n;
  }
  EXPECT_EQ(n, expected_lines);
  EXPECT_EQ(bad, 0) << "of " << n << " lines";
}

TEST(Tokenizer, MatchesEveryGoldenLine) { expect_goldens(gemma_dir() + "/goldens.jsonl", "ids", 1639); }

TEST(Tokenizer, MatchesSentencePieceOnDivergentLines) {
  expect_goldens(gemma_dir() + "/goldens-divergent.jsonl", "spm_ids", 46);
}

// The cached word-by-word encoder equals SentencePiece on whole strings, on every text of the
// real data files (multilingual, code, whitespace runs) and on whitespace edge cases.
TEST(Tokenizer, WordCachedEncodingEqualsWholeStringEncoding) {
  Tokenizer tok(gemma_dir() + "/tokenizer.model");
  std::vector<std::string> texts{"", " ", "  ", "a", " a", "a ", "a  b", "a   b  ", "\xE2\x96\x81 a",
                                 "x\xE2\x96\x81 y", "tab\tand\nnewline  x", std::string(40, ' ') + "end"};
  std::ifstream in((testing::shared_dir() / "data" / "autoj-pairwise.jsonl").string());
  std::string line;
  while (std::getline(in, line)) {
    const auto j = nlohmann::json::parse(line);
    for (const char* k : {"prompt", "response_a", "response_b"}) texts.push_back(j[k].get<std::string>());
  }
  std::ifstream golden(gemma_dir() + "/goldens-divergent.jsonl");
  while (std::getline(golden, line)) texts.push_back(nlohmann::json::parse(line)["text"].get<std::string>());
  int differ = 0;
  for (const auto& t : texts) differ += tok.encode(t) != tok.encode_exact(t);
  EXPECT_EQ(differ, 0) << "of " << texts.size() << " texts";
  EXPECT_GT(texts.size(), 4000u);
}

TEST(Tokenizer, MissingModelIsAnErrorNamingTheFile) {
  try {
    Tokenizer tok("/nonexistent/tokenizer.model");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("/nonexistent/tokenizer.model"), std::string::npos);
  }
}

}  // namespace
}  // namespace arena
