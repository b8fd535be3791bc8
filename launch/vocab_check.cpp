#include "launch/vocab_check.h"

#include <fmt/format.h>

#include "common/error.h"

namespace arena {
namespace {

// SentencePiece's whitespace mark, as llama.cpp's converter turns it back into spaces.
std::string spaces_for_marks(std::string piece) {
  const std::string mark = "\xE2\x96\x81";  // U+2581
  for (size_t at = piece.find(mark); at != std::string::npos; at = piece.find(mark, at + 1)) {
    piece.replace(at, mark.size(), " ");
  }
  return piece;
}

}  // namespace

void check_vocabulary(const std::vector<std::string>& model_vocab, const std::string& model_path,
                      const Tokenizer& tok) {
  check(static_cast<int64_t>(model_vocab.size()) == tok.vocab_size(),
        "{} has a vocabulary of {} tokens but the tokenizer {} has {}: they belong to different models", model_path,
        model_vocab.size(), tok.path(), tok.vocab_size());
  int64_t differing = 0, first = -1;
  for (size_t id = 0; id < model_vocab.size(); ++id) {
    const auto piece = tok.id_to_piece(static_cast<int>(id));
    if (model_vocab[id] == piece || model_vocab[id] == spaces_for_marks(piece)) continue;
    if (differing++ == 0) first = static_cast<int64_t>(id);
  }
  if (differing > 0) {
    throw Error(fmt::format("{} and the tokenizer {} disagree on {} token(s); first at id {}: '{}' vs '{}'",
                            model_path, tok.path(), differing, first, model_vocab[static_cast<size_t>(first)],
                            tok.id_to_piece(static_cast<int>(first))));
  }
}

}  // namespace arena
