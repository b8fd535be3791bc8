// A model's own vocabulary (GGUF) against the tokenizer: equal pieces pass (also llama.cpp's
// spaces-for-▁ spelling), one changed piece or a different size is refused by id and by name.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "common/error.h"
#include "data/tokenizer.h"
#include "launch/vocab_check.h"
#include "test_support.h"

namespace arena {
namespace {

std::vector<std::string> pieces_of(const Tokenizer& tok) {
  std::vector<std::string> v;
  for (int id = 0; id < tok.vocab_size(); ++id) v.push_back(tok.id_to_piece(id));
  return v;
}

std::string error_of(const std::vector<std::string>& vocab, const Tokenizer& tok) {
  try {
    check_vocabulary(vocab, "model.gguf", tok);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(VocabCheck, AcceptsTheSameVocabularyAndSpacesForMarks) {
  const Tokenizer tok((testing::shared_dir() / "gemma" / "gemma3" / "tokenizer.model").string());
  auto vocab = pieces_of(tok);
  EXPECT_EQ(error_of(vocab, tok), "");
  ASSERT_EQ(vocab[138], "\xE2\x96\x81\xE2\x96\x81");  // "▁▁", stored as two spaces by llama.cpp
  vocab[138] = "  ";
  EXPECT_EQ(error_of(vocab, tok), "");
}

TEST(VocabCheck, RefusesAChangedPieceOrSize) {
  const Tokenizer tok((testing::shared_dir() / "gemma" / "gemma3" / "tokenizer.model").string());
  auto vocab = pieces_of(tok);
  vocab[1000] = "not-a-piece";
  const auto e = error_of(vocab, tok);
  EXPECT_NE(e.find("model.gguf"), std::string::npos) << e;
  EXPECT_NE(e.find("1 token(s); first at id 1000: 'not-a-piece'"), std::string::npos) << e;
  vocab.pop_back();
  EXPECT_NE(error_of(vocab, tok).find("262143 tokens but the tokenizer"), std::string::npos);
}

}  // namespace
}  // namespace arena
