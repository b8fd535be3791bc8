// SentencePiece's BPE encoding, implemented natively for speed: the tokenizer's cold path (a word
// it has not seen yet) costs a full SentencePieceProcessor::Encode call otherwise, with its
// normalizer, protobuf result and per-piece strings.
//
// It applies to BPE models with byte fallback and no Unicode normalization (Gemma's
// tokenizer.model), and reproduces SentencePiece 0.1.97's algorithm step by step:
//   - normalization: each ' ' becomes U+2581;
//   - the text is cut into user-defined symbols (longest match, never merged further) and single
//     UTF-8 characters;
//   - the adjacent pair whose concatenation is a piece with the highest score is merged, ties to
//     the leftmost, until no pair is a piece; merges into UNUSED pieces are undone at the end;
//   - a symbol that is no piece becomes its UTF-8 bytes as <0xXX> pieces.
// tests/data/test_tokenizer.cpp checks it against SentencePiece itself on every text of the
// golden files and the data files and on generated edge cases.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "data/spm_model.h"

namespace arena {

class BpeEncoder {
 public:
  // Why `model` cannot be encoded natively; empty when it can.
  static std::string unsupported_reason(const SpmModel& model);

  // Requires unsupported_reason(model) to be empty (throws arena::Error otherwise).
  explicit BpeEncoder(const SpmModel& model);

  // Appends the ids of `text` to `ids` and returns true. Returns false, appending nothing, when
  // `text` is not valid UTF-8: SentencePiece replaces such bytes with U+FFFD, and the caller
  // leaves those texts to SentencePiece itself.
  bool encode(std::string_view text, std::vector<int>& ids) const;

 private:
  struct Slot {
    uint32_t offset = 0, length = 0;  // the piece's bytes in bytes_; length 0 marks an empty slot
    int32_t normal = -1;              // id among NORMAL, USER_DEFINED and UNUSED pieces (merge targets)
    int32_t reserved = -1;            // id among the other types, looked up first for the final id
  };
  const Slot* find(std::string_view piece) const;
  Slot& insert(std::string_view piece);
  // Length of the longest user-defined symbol at the start of `s`, or 0.
  size_t user_defined_prefix(std::string_view s) const;

  std::string bytes_;
  std::vector<Slot> slots_;
  uint64_t mask_ = 0;
  std::vector<float> score_;
  std::vector<uint8_t> type_;
  int unk_id_ = -1;
  int byte_id_[256];
  // User-defined symbols as a byte trie: node -> (byte -> child), and the symbol ending at a node.
  std::vector<std::unordered_map<uint8_t, int>> trie_;
  std::vector<bool> trie_end_;
};

}  // namespace arena
