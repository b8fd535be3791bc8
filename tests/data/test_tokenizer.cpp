// The Gemma tokenizer against golden ids (../shared/gemma, produced by the Hugging Face tokenizer).
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include <fstream>
#include <random>
#include <string>

#include "common/error.h"
#include "data/spm_model.h"
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
void expect_goldens(const std::string& file, const char* key, int expected_lines,
                    const std::string& model = gemma_dir() + "/tokenizer.model") {
  Tokenizer tok(model);
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

// The Gemma-3 vocabulary (262,144 pieces), through the same tokenizer code.
TEST(Tokenizer, Gemma3SpecialIds) {
  Tokenizer tok(gemma_dir() + "/gemma3/tokenizer.model");
  EXPECT_EQ(tok.vocab_size(), 262144);
  EXPECT_EQ(tok.pad_id(), 0);
  EXPECT_EQ(tok.eos_id(), 1);
  EXPECT_EQ(tok.bos_id(), 2);
  EXPECT_EQ(tok.piece_id("<start_of_turn>"), 105);
  EXPECT_EQ(tok.piece_id("<end_of_turn>"), 106);
}

TEST(Tokenizer, Gemma3MatchesEveryGoldenLine) {
  expect_goldens(gemma_dir() + "/gemma3/goldens.jsonl", "ids", 1653, gemma_dir() + "/gemma3/tokenizer.model");
}

TEST(Tokenizer, Gemma3MatchesSentencePieceOnDivergentLines) {
  expect_goldens(gemma_dir() + "/gemma3/goldens-divergent.jsonl", "spm_ids", 32,
                 gemma_dir() + "/gemma3/tokenizer.model");
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

// Every prompt and response of the real data files, and the golden texts.
std::vector<std::string> real_texts() {
  std::vector<std::string> texts;
  std::ifstream in((testing::shared_dir() / "data" / "autoj-pairwise.jsonl").string());
  std::string line;
  while (std::getline(in, line)) {
    const auto j = nlohmann::json::parse(line);
    for (const char* k : {"prompt", "response_a", "response_b"}) texts.push_back(j[k].get<std::string>());
  }
  for (const char* f : {"goldens.jsonl", "goldens-divergent.jsonl"}) {
    std::ifstream golden(gemma_dir() + "/" + f);
    while (std::getline(golden, line)) texts.push_back(nlohmann::json::parse(line)["text"].get<std::string>());
  }
  return texts;
}

// Seeded random strings from fragments chosen to hit the encoder's edge cases: whitespace runs,
// a literal U+2581, user-defined and control symbols written as text, byte-piece look-alikes,
// digits, 2/3/4-byte characters, characters outside the vocabulary (byte fallback), NUL, and
// malformed UTF-8 (which the native encoder hands back to SentencePiece).
std::vector<std::string> generated_texts(int count, const std::vector<std::string>& extra_fragments) {
  std::vector<std::string> fragments{
      " ", "  ", "   ", "        ", "\t", "\n", "\n\n", "\r\n", "\xE2\x96\x81", "\xE2\x96\x81\xE2\x96\x81", "a", "the",
      " the", "ing", "Hello", " world", ",", ".", "!?", "'s", "\"", "123", "2024", "0.5", "-", "_", "__init__",
      "<", ">", "</", "<b>", "<br>", "</b>", "<start_of_turn>", "<end_of_turn>", "<bos>", "<eos>", "<pad>",
      "<unk>", "<mask>", "<unused5>", "<0x41>", "[@BOS@]", "\xC3\xA9", "na\xC3\xAFve", "\xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9E",
      "\xD0\x9F\xD1\x80\xD0\xB8", "\xF0\x9F\x99\x82", "\xF0\x9F\x91\xA9\xE2\x80\x8D\xF0\x9F\x92\xBB",
      "\xEA\xB0\x80", "\xE2\x80\x94", "\xF0\x90\x8D\x88", "\xF3\xA0\x80\x81", std::string(1, '\0'), "\x7F",
      "\xFF", "\xC3", "\xED\xA0\x80", "\xC0\xAF", "```python\n", "def f(x):\n    return x\n"};
  fragments.insert(fragments.end(), extra_fragments.begin(), extra_fragments.end());
  std::mt19937 rng(20261122);
  std::uniform_int_distribution<size_t> pick(0, fragments.size() - 1);
  std::uniform_int_distribution<int> length(1, 24);
  std::vector<std::string> texts;
  for (int i = 0; i < count; ++i) {
    std::string t;
    for (int n = length(rng); n > 0; --n) t += fragments[pick(rng)];
    texts.push_back(t);
  }
  return texts;
}

// How many of `texts` the native encoder and SentencePiece encode differently.
int count_differences(const Tokenizer& tok, const std::vector<std::string>& texts) {
  int differ = 0;
  for (const auto& t : texts) {
    if (tok.encode_uncached(t) != tok.encode_exact(t) && ++differ <= 5) ADD_FAILURE() << "ids differ on: " << t;
  }
  return differ;
}

TEST(Tokenizer, NativeBpeEqualsSentencePieceOnGemma) {
  Tokenizer tok(gemma_dir() + "/tokenizer.model");
  ASSERT_EQ(tok.native_unsupported(), "");
  auto texts = real_texts();
  // Words cut from the real texts as extra fragments, so generated texts mix real vocabulary.
  std::vector<std::string> words;
  for (size_t i = 0; i < texts.size(); i += 7) words.push_back(texts[i].substr(0, 12));
  const auto generated = generated_texts(20000, words);
  texts.insert(texts.end(), generated.begin(), generated.end());
  EXPECT_EQ(count_differences(tok, texts), 0) << "of " << texts.size() << " texts";
}

// A small BPE model with UNUSED pieces, which Gemma's model lacks (tests/fixtures/gen_spm_fixture.py):
// SentencePiece merges into them, then splits them again.
TEST(Tokenizer, NativeBpeEqualsSentencePieceWithUnusedPieces) {
  const std::string path = (testing::fixture_dir() / "spm" / "bpe-unused.model").string();
  Tokenizer tok(path);
  ASSERT_EQ(tok.native_unsupported(), "");
  std::ifstream in(path, std::ios::binary);
  const std::string bytes{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  std::vector<std::string> unused;
  for (const auto& p : parse_spm_model(bytes, path).pieces)
    if (p.type == SpmPiece::kUnused) unused.push_back(p.piece);
  ASSERT_GT(unused.size(), 100u);
  auto texts = real_texts();
  texts.resize(3000);
  const auto generated = generated_texts(5000, unused);
  texts.insert(texts.end(), generated.begin(), generated.end());
  // The UNUSED path is exercised: many texts hold an UNUSED piece's characters.
  int holding = 0;
  for (const auto& t : texts) {
    std::string escaped;
    for (char c : t) escaped += c == ' ' ? std::string("\xE2\x96\x81") : std::string(1, c);
    for (const auto& u : unused) {
      if (escaped.find(u) != std::string::npos) {
        ++holding;
        break;
      }
    }
  }
  EXPECT_GT(holding, 1000);
  EXPECT_EQ(count_differences(tok, texts), 0) << "of " << texts.size() << " texts";
}

TEST(Tokenizer, ModelFileErrorsNameTheFileAndOffset) {
  try {
    parse_spm_model(std::string("\x0a\x80", 2), "bad.model");
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("bad.model"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("byte"), std::string::npos) << e.what();
  }
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
