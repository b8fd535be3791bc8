// A model file that carries its own vocabulary (GGUF) must agree with the tokenizer the run uses:
// the ids the tokenizer produces index the model's embedding rows.
#pragma once

#include <string>
#include <vector>

#include "data/tokenizer.h"

namespace arena {

// Throws arena::Error naming both files, the first differing id and both spellings, and the count
// of differences, when `model_vocab` (id order) and `tok` differ in size or in any piece.
// llama.cpp's converter stores user-defined pieces made of '▁' (U+2581) with plain spaces
// instead; that spelling is accepted as equal.
void check_vocabulary(const std::vector<std::string>& model_vocab, const std::string& model_path,
                      const Tokenizer& tok);

}  // namespace arena
