#include "data/tokenizer.h"

#include <sentencepiece_processor.h>

#include <fstream>
#include <iterator>

#include "common/error.h"
#include "data/bpe_encoder.h"
#include "data/spm_model.h"
#include "data/string_hash.h"
#include "data/word_cache.h"

namespace arena {
namespace {

// The sentencepiece error helper: names the operation and the model file, with spm's own message.
void check_spm(const sentencepiece::util::Status& status, const char* what, const std::string& path) {
  if (!status.ok()) throw Error(fmt::format("{}: sentencepiece {} failed: {}", path, what, status.ToString()));
}

uint64_t fnv1a(const std::string& bytes) {
  uint64_t h = 1469598103934665603ULL;
  for (unsigned char c : bytes) h = (h ^ c) * 1099511628211ULL;
  return h;
}

}  // namespace

Tokenizer::Tokenizer(const std::string& path) : path_(path), sp_(new sentencepiece::SentencePieceProcessor()) {
  std::ifstream in(path, std::ios::binary);
  check(in.good(), "{}: cannot open tokenizer model", path);
  const std::string bytes{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
  check_spm(sp_->LoadFromSerializedProto(bytes), "load", path);
  fingerprint_ = fnv1a(bytes);
  bos_ = sp_->bos_id();
  eos_ = sp_->eos_id();
  pad_ = sp_->pad_id();
  check(bos_ >= 0 && eos_ >= 0 && pad_ >= 0, "{}: tokenizer lacks bos/eos/pad ids ({} {} {})", path, bos_, eos_, pad_);
  // The native encoder is an accelerator: a model it cannot read or cover runs on SentencePiece.
  try {
    const SpmModel model = parse_spm_model(bytes, path);
    native_unsupported_ = BpeEncoder::unsupported_reason(model);
    if (native_unsupported_.empty()) native_ = std::make_unique<BpeEncoder>(model);
  } catch (const Error& e) {
    native_unsupported_ = e.what();
  }
  // Word-by-word encoding is exact when no piece can span a word boundary, i.e. no piece holds a
  // non-space character followed by the space symbol U+2581.
  word_split_safe_ = true;
  const std::string space = "\xE2\x96\x81";
  for (int id = 0; id < sp_->GetPieceSize() && word_split_safe_; ++id) {
    const std::string& piece = sp_->IdToPiece(id);
    for (size_t at = piece.find(space, 1); at != std::string::npos; at = piece.find(space, at + 1)) {
      if (at < 3 || piece.compare(at - 3, 3, space) != 0) {
        word_split_safe_ = false;
        break;
      }
    }
  }
}

Tokenizer::~Tokenizer() = default;

std::vector<int> Tokenizer::encode_exact(std::string_view text) const {
  std::vector<int> ids;
  check_spm(sp_->Encode(text, &ids), "encode", path_);
  return ids;
}

std::vector<int> Tokenizer::encode_uncached(std::string_view text) const {
  std::vector<int> ids;
  if (native_ && native_->encode(text, ids)) return ids;
  return encode_exact(text);
}

std::vector<int> Tokenizer::encode(std::string_view text) const {
  if (!word_split_safe_) return encode_uncached(text);
  // One cache per thread and tokenizer; bounded so a huge corpus cannot grow it without limit.
  struct Cache {
    uint64_t owner = 0;
    WordCache words;
  };
  thread_local Cache cache;
  // Bounds keep the cache's 32-bit offsets valid: ids never outnumber key bytes.
  constexpr size_t kMaxCachedWord = 1 << 16, kMaxCacheBytes = size_t{1} << 30;
  if (cache.owner != fingerprint_ || cache.words.size() > 1'000'000) {
    cache.words.clear();
    cache.owner = fingerprint_;
  }
  std::vector<int> ids;
  ids.reserve(text.size() / 3);
  const auto emit = [&](std::string_view word) {
    if (word.size() > kMaxCachedWord) {  // a blob without spaces: not worth a cache entry
      const auto word_ids = encode_uncached(word);
      ids.insert(ids.end(), word_ids.begin(), word_ids.end());
      return;
    }
    const uint64_t hash = string_hash(word);
    auto cached = cache.words.find(word, hash);
    if (cached.data == nullptr) {
      if (cache.words.key_bytes() > kMaxCacheBytes) cache.words.clear();
      cached = cache.words.insert(word, hash, encode_uncached(word));
    }
    ids.insert(ids.end(), cached.data, cached.data + cached.size);
  };
  size_t start = 0;
  for (size_t i = 1; i < text.size(); ++i) {
    if (text[i] != ' ' || text[i - 1] == ' ') continue;
    // A literal U+2581 (E2 96 81) is a space to SentencePiece: no boundary after it either.
    if (i >= 3 && text.substr(i - 3, 3) == "\xE2\x96\x81") continue;
    emit(text.substr(start, i - start));
    start = i;
  }
  if (start < text.size()) emit(text.substr(start));
  return ids;
}

std::string Tokenizer::decode(const std::vector<int>& ids) const {
  std::string text;
  check_spm(sp_->Decode(ids, &text), "decode", path_);
  return text;
}

int Tokenizer::piece_id(const std::string& piece) const {
  const int id = sp_->PieceToId(piece);
  check(id != sp_->unk_id() || piece == sp_->IdToPiece(sp_->unk_id()), "{}: vocabulary has no piece '{}'", path_,
        piece);
  return id;
}

std::string Tokenizer::id_to_piece(int id) const {
  check(id >= 0 && id < vocab_size(), "{}: token id {} outside the vocabulary (0..{})", path_, id, vocab_size() - 1);
  return sp_->IdToPiece(id);
}

int Tokenizer::vocab_size() const { return sp_->GetPieceSize(); }

}  // namespace arena
