// The Gemma tokenizer: a SentencePiece model (the checkpoint's tokenizer.model).
// Special ids are read from the model itself (Gemma: pad 0, eos 1, bos 2, unk 3).
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace sentencepiece {
class SentencePieceProcessor;
}

namespace arena {

class BpeEncoder;

class Tokenizer {
 public:
  // Loads `path` (tokenizer.model). Throws arena::Error naming the file and sentencepiece's status.
  explicit Tokenizer(const std::string& path);
  ~Tokenizer();
  Tokenizer(const Tokenizer&) = delete;
  Tokenizer& operator=(const Tokenizer&) = delete;

  // Token ids of `text` without <bos>/<eos>; thread-safe. Splits the text into words before each
  // space that follows a non-space, encodes each new word once per thread with encode_uncached()
  // (cached), and concatenates: identical to encode_exact() because no vocabulary piece holds a
  // non-space followed by a space (checked when the model loads; otherwise every call encodes the
  // whole string with encode_uncached()).
  std::vector<int> encode(std::string_view text) const;
  // SentencePiece on the whole string, uncached.
  std::vector<int> encode_exact(std::string_view text) const;
  // The whole string, uncached, with the native BPE encoder where it applies (see bpe_encoder.h)
  // and SentencePiece otherwise: the same ids as encode_exact(), faster.
  std::vector<int> encode_uncached(std::string_view text) const;
  // Why the native encoder is off for this model; empty when it is on.
  const std::string& native_unsupported() const { return native_unsupported_; }
  std::string decode(const std::vector<int>& ids) const;
  // Id of a piece such as "<start_of_turn>"; throws if the vocabulary lacks it.
  int piece_id(const std::string& piece) const;

  // The vocabulary entry of `id` as the model file spells it ("▁the", "<bos>", "<0x0A>").
  std::string id_to_piece(int id) const;
  int vocab_size() const;
  int bos_id() const { return bos_; }
  int eos_id() const { return eos_; }
  int pad_id() const { return pad_; }
  const std::string& path() const { return path_; }
  // Content hash of the model file (FNV-1a 64 of its bytes), for cache invalidation.
  uint64_t fingerprint() const { return fingerprint_; }

 private:
  std::string path_;
  std::unique_ptr<sentencepiece::SentencePieceProcessor> sp_;
  int bos_ = 2, eos_ = 1, pad_ = 0;
  uint64_t fingerprint_ = 0;
  bool word_split_safe_ = false;  // the vocabulary allows encoding word by word
  std::unique_ptr<BpeEncoder> native_;
  std::string native_unsupported_;
};

}  // namespace arena
