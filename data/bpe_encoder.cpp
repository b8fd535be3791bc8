#include "data/bpe_encoder.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstdint>

#include "common/error.h"
#include "data/string_hash.h"

namespace arena {
namespace {

constexpr std::string_view kSpaceSymbol = "\xE2\x96\x81";  // U+2581, SentencePiece's escaped space

// Byte length of the UTF-8 character starting at `s[0]`, or 0 when it is malformed: a bad lead
// byte, a missing continuation, an overlong form, a surrogate or a code point past U+10FFFF.
size_t utf8_char_length(std::string_view s) {
  const auto b0 = static_cast<uint8_t>(s[0]);
  if (b0 < 0x80) return 1;
  size_t n;
  uint32_t cp;
  if ((b0 & 0xE0) == 0xC0) n = 2, cp = b0 & 0x1F;
  else if ((b0 & 0xF0) == 0xE0) n = 3, cp = b0 & 0x0F;
  else if ((b0 & 0xF8) == 0xF0) n = 4, cp = b0 & 0x07;
  else return 0;
  if (s.size() < n) return 0;
  for (size_t i = 1; i < n; ++i) {
    const auto b = static_cast<uint8_t>(s[i]);
    if ((b & 0xC0) != 0x80) return 0;
    cp = (cp << 6) | (b & 0x3F);
  }
  static constexpr uint32_t kMin[5] = {0, 0, 0x80, 0x800, 0x10000};
  if (cp < kMin[n] || cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF)) return 0;
  return n;
}

struct Symbol {
  uint32_t start, length;
  int prev, next;
  bool frozen;  // a user-defined symbol: never merged
};

struct Candidate {
  float score;
  int left, right;
  uint32_t length;  // the merged piece's length when the candidate was made; a mismatch marks it stale
};

// SentencePiece's agenda order: higher score first, then the leftmost pair.
struct CandidateOrder {
  bool operator()(const Candidate& a, const Candidate& b) const {
    return a.score < b.score || (a.score == b.score && a.left > b.left);
  }
};

}  // namespace

std::string BpeEncoder::unsupported_reason(const SpmModel& m) {
  if (m.model_type != SpmModel::kBpe) return fmt::format("model type {} is not BPE", m.model_type);
  if (!m.byte_fallback) return "no byte fallback";
  if (m.has_charsmap) return fmt::format("normalizer '{}' rewrites characters", m.normalizer_name);
  if (m.add_dummy_prefix) return "add_dummy_prefix is on";
  if (m.remove_extra_whitespaces) return "remove_extra_whitespaces is on";
  if (!m.escape_whitespaces) return "escape_whitespaces is off";
  if (m.treat_whitespace_as_suffix) return "treat_whitespace_as_suffix is on";
  int unknown = 0, bytes = 0;
  for (const auto& p : m.pieces) {
    if (p.type < SpmPiece::kNormal || p.type > SpmPiece::kByte) return fmt::format("piece type {}", p.type);
    // A one-character control piece would be looked up for that character, where SentencePiece
    // itself fails the encode; no such model is covered.
    if (p.type == SpmPiece::kControl && !p.piece.empty() && utf8_char_length(p.piece) == p.piece.size())
      return fmt::format("one-character control piece '{}'", p.piece);
    unknown += p.type == SpmPiece::kUnknown;
    bytes += p.type == SpmPiece::kByte;
  }
  if (unknown != 1) return fmt::format("{} unknown pieces", unknown);
  if (bytes != 256) return fmt::format("{} byte pieces", bytes);
  return {};
}

BpeEncoder::BpeEncoder(const SpmModel& m) {
  const std::string why = unsupported_reason(m);
  check(why.empty(), "native BPE encoder: {}", why);
  size_t capacity = 1;
  while (capacity < 2 * m.pieces.size()) capacity <<= 1;
  slots_.resize(capacity);
  mask_ = capacity - 1;
  trie_.emplace_back();
  trie_end_.push_back(false);
  for (size_t id = 0; id < m.pieces.size(); ++id) {
    const auto& p = m.pieces[id];
    score_.push_back(p.score);
    type_.push_back(static_cast<uint8_t>(p.type));
    const bool normal =
        p.type == SpmPiece::kNormal || p.type == SpmPiece::kUserDefined || p.type == SpmPiece::kUnused;
    Slot& slot = insert(p.piece);
    int32_t& target = normal ? slot.normal : slot.reserved;
    if (target < 0) target = static_cast<int32_t>(id);  // SentencePiece keeps the first of duplicates
    if (p.type == SpmPiece::kUnknown) unk_id_ = static_cast<int>(id);
    if (p.type == SpmPiece::kUserDefined) {
      int node = 0;
      for (unsigned char c : p.piece) {
        auto it = trie_[node].find(c);
        if (it == trie_[node].end()) {
          it = trie_[node].emplace(c, static_cast<int>(trie_.size())).first;
          trie_.emplace_back();
          trie_end_.push_back(false);
        }
        node = it->second;
      }
      trie_end_[node] = true;
    }
  }
  for (int b = 0; b < 256; ++b) {
    const Slot* s = find(fmt::format("<0x{:02X}>", b));
    check(s != nullptr && s->reserved >= 0, "native BPE encoder: no byte piece for 0x{:02X}", b);
    byte_id_[b] = s->reserved;
  }
}

const BpeEncoder::Slot* BpeEncoder::find(std::string_view piece) const {
  for (uint64_t i = string_hash(piece) & mask_;; i = (i + 1) & mask_) {
    const Slot& s = slots_[i];
    if (s.length == 0) return nullptr;
    if (s.length == piece.size() && std::string_view(bytes_.data() + s.offset, s.length) == piece) return &s;
  }
}

BpeEncoder::Slot& BpeEncoder::insert(std::string_view piece) {
  for (uint64_t i = string_hash(piece) & mask_;; i = (i + 1) & mask_) {
    Slot& s = slots_[i];
    if (s.length == 0) {
      s.offset = static_cast<uint32_t>(bytes_.size());
      s.length = static_cast<uint32_t>(piece.size());
      bytes_.append(piece);
      return s;
    }
    if (s.length == piece.size() && std::string_view(bytes_.data() + s.offset, s.length) == piece) return s;
  }
}

size_t BpeEncoder::user_defined_prefix(std::string_view s) const {
  size_t longest = 0;
  int node = 0;
  for (size_t i = 0; i < s.size(); ++i) {
    const auto& children = trie_[node];
    const auto it = children.find(static_cast<uint8_t>(s[i]));
    if (it == children.end()) break;
    node = it->second;
    if (trie_end_[node]) longest = i + 1;
  }
  return longest;
}

bool BpeEncoder::encode(std::string_view text, std::vector<int>& ids) const {
  // Offsets are 32-bit and the normalized text can be 3x the input: larger texts go to SentencePiece.
  if (text.size() > UINT32_MAX / 3) return false;
  thread_local std::string norm;
  thread_local std::vector<Symbol> symbols;
  thread_local std::vector<Candidate> agenda;
  norm.clear();
  for (size_t i = 0; i < text.size();) {
    const size_t n = utf8_char_length(text.substr(i));
    if (n == 0) return false;
    if (text[i] == ' ') norm.append(kSpaceSymbol);
    else norm.append(text.data() + i, n);
    i += n;
  }
  if (norm.empty()) return true;

  // Initial symbols: user-defined symbols (longest match) and single characters.
  symbols.clear();
  const std::string_view all(norm);
  for (size_t at = 0; at < all.size();) {
    size_t n = trie_[0].empty() ? 0 : user_defined_prefix(all.substr(at));
    const bool frozen = n > 0;
    if (!frozen) n = utf8_char_length(all.substr(at));
    const int index = static_cast<int>(symbols.size());
    symbols.push_back({static_cast<uint32_t>(at), static_cast<uint32_t>(n), index - 1, -1, frozen});
    if (index > 0) symbols[index - 1].next = index;
    at += n;
  }

  // Merges, best pair first.
  agenda.clear();
  // Each pair considered whose concatenation is an UNUSED piece, as (start, length, left length);
  // the last one with a given content says how SentencePiece splits that piece again.
  struct Split {
    uint32_t start, length, left_length;
  };
  thread_local std::vector<Split> unused_pairs;
  unused_pairs.clear();
  const CandidateOrder order;
  const auto consider = [&](int left, int right) {
    if (left < 0 || right < 0 || symbols[left].frozen || symbols[right].frozen) return;
    const uint32_t length = symbols[left].length + symbols[right].length;
    const Slot* s = find(all.substr(symbols[left].start, length));
    if (s == nullptr || s->normal < 0) return;
    agenda.push_back({score_[s->normal], left, right, length});
    if (type_[s->normal] == SpmPiece::kUnused) unused_pairs.push_back({symbols[left].start, length, symbols[left].length});
    std::push_heap(agenda.begin(), agenda.end(), order);
  };
  for (size_t i = 1; i < symbols.size(); ++i) consider(static_cast<int>(i) - 1, static_cast<int>(i));
  while (!agenda.empty()) {
    std::pop_heap(agenda.begin(), agenda.end(), order);
    const Candidate top = agenda.back();
    agenda.pop_back();
    Symbol& l = symbols[top.left];
    Symbol& r = symbols[top.right];
    if (l.length == 0 || r.length == 0 || l.length + r.length != top.length) continue;  // stale
    l.length = top.length;
    l.next = r.next;
    if (r.next >= 0) symbols[r.next].prev = top.left;
    r.length = 0;
    consider(l.prev, top.left);
    consider(top.left, l.next);
  }

  // Final ids, splitting UNUSED pieces again, with byte fallback for symbols that are no piece.
  const auto emit = [&](auto&& self, std::string_view piece) -> void {
    const Slot* s = find(piece);
    int id = unk_id_;
    if (s != nullptr) id = s->reserved >= 0 ? s->reserved : s->normal;
    if (type_[id] == SpmPiece::kUnused) {
      for (auto it = unused_pairs.rbegin(); it != unused_pairs.rend(); ++it) {
        const std::string_view merged = all.substr(it->start, it->length);
        if (merged != piece) continue;
        self(self, merged.substr(0, it->left_length));
        self(self, merged.substr(it->left_length));
        return;
      }
    }
    if (type_[id] == SpmPiece::kUnknown) {
      for (unsigned char b : piece) ids.push_back(byte_id_[b]);
    } else {
      ids.push_back(id);
    }
  };
  for (int i = 0; i >= 0; i = symbols[i].next) emit(emit, all.substr(symbols[i].start, symbols[i].length));
  return true;
}

}  // namespace arena
