#include "data/spm_model.h"

#include <cstdint>
#include <cstring>
#include <string_view>

#include "common/error.h"

namespace arena {
namespace {

// A reader over one protobuf message: fields are (number, wire type, payload).
class Wire {
 public:
  Wire(std::string_view bytes, size_t base, const std::string& path) : s_(bytes), base_(base), path_(path) {}

  bool done() const { return at_ >= s_.size(); }
  size_t offset() const { return base_ + at_; }

  uint64_t varint() {
    uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      check(at_ < s_.size(), "{}: truncated protobuf varint at byte {}", path_, offset());
      const auto b = static_cast<uint8_t>(s_[at_++]);
      v |= static_cast<uint64_t>(b & 0x7F) << shift;
      if (!(b & 0x80)) return v;
    }
    throw Error(fmt::format("{}: protobuf varint longer than 10 bytes at byte {}", path_, offset()));
  }

  // The next field's number and wire type.
  void key(uint32_t& field, uint32_t& wire) {
    const uint64_t k = varint();
    field = static_cast<uint32_t>(k >> 3);
    wire = static_cast<uint32_t>(k & 7);
  }

  std::string_view bytes_field() {
    const uint64_t n = varint();
    check(n <= s_.size() - at_, "{}: protobuf field of {} bytes runs past the end at byte {}", path_, n, offset());
    const auto v = s_.substr(at_, n);
    at_ += n;
    return v;
  }

  float fixed32_float() {
    check(s_.size() - at_ >= 4, "{}: truncated float at byte {}", path_, offset());
    float f;
    std::memcpy(&f, s_.data() + at_, 4);  // little-endian on every platform we build for
    at_ += 4;
    return f;
  }

  void skip(uint32_t wire) {
    switch (wire) {
      case 0: varint(); return;
      case 1: advance(8); return;
      case 2: bytes_field(); return;
      case 5: advance(4); return;
      default: throw Error(fmt::format("{}: unsupported protobuf wire type {} at byte {}", path_, wire, offset()));
    }
  }

  // A sub-message's reader; its offsets stay relative to the file.
  Wire sub(std::string_view body) const { return Wire(body, base_ + (body.data() - s_.data()), path_); }

 private:
  void advance(size_t n) {
    check(s_.size() - at_ >= n, "{}: truncated protobuf field at byte {}", path_, offset());
    at_ += n;
  }
  std::string_view s_;
  size_t at_ = 0;
  size_t base_;
  const std::string& path_;
};

SpmPiece parse_piece(Wire w) {
  SpmPiece p;
  uint32_t field, wire;
  while (!w.done()) {
    w.key(field, wire);
    if (field == 1 && wire == 2) p.piece = std::string(w.bytes_field());
    else if (field == 2 && wire == 5) p.score = w.fixed32_float();
    else if (field == 3 && wire == 0) p.type = static_cast<int>(w.varint());
    else w.skip(wire);
  }
  return p;
}

void parse_trainer_spec(Wire w, SpmModel& m) {
  uint32_t field, wire;
  while (!w.done()) {
    w.key(field, wire);
    if (field == 3 && wire == 0) m.model_type = static_cast<int>(w.varint());
    else if (field == 35 && wire == 0) m.byte_fallback = w.varint() != 0;
    else if (field == 24 && wire == 0) m.treat_whitespace_as_suffix = w.varint() != 0;
    else w.skip(wire);
  }
}

void parse_normalizer_spec(Wire w, SpmModel& m) {
  uint32_t field, wire;
  while (!w.done()) {
    w.key(field, wire);
    if (field == 1 && wire == 2) m.normalizer_name = std::string(w.bytes_field());
    else if (field == 2 && wire == 2) m.has_charsmap = !w.bytes_field().empty();
    else if (field == 3 && wire == 0) m.add_dummy_prefix = w.varint() != 0;
    else if (field == 4 && wire == 0) m.remove_extra_whitespaces = w.varint() != 0;
    else if (field == 5 && wire == 0) m.escape_whitespaces = w.varint() != 0;
    else w.skip(wire);
  }
}

}  // namespace

SpmModel parse_spm_model(const std::string& bytes, const std::string& path) {
  SpmModel m;
  Wire w(bytes, 0, path);
  uint32_t field, wire;
  while (!w.done()) {
    w.key(field, wire);
    if (field == 1 && wire == 2) m.pieces.push_back(parse_piece(w.sub(w.bytes_field())));
    else if (field == 2 && wire == 2) parse_trainer_spec(w.sub(w.bytes_field()), m);
    else if (field == 3 && wire == 2) parse_normalizer_spec(w.sub(w.bytes_field()), m);
    else w.skip(wire);
  }
  check(!m.pieces.empty(), "{}: the model has no pieces", path);
  return m;
}

}  // namespace arena
