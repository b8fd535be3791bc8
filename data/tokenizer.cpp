#include "data/tokenizer.h"

#include <sentencepiece_processor.h>

#include <fstream>
#include <iterator>

#include "common/error.h"

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
}

Tokenizer::~Tokenizer() = default;

std::vector<int> Tokenizer::encode(std::string_view text) const {
  std::vector<int> ids;
  check_spm(sp_->Encode(text, &ids), "encode", path_);
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

int Tokenizer::vocab_size() const { return sp_->GetPieceSize(); }

}  // namespace arena
