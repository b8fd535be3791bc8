#include "data/encode.h"

#include <algorithm>
#include <cmath>
#include <string_view>
#include <numeric>

#include "common/error.h"

namespace arena {
namespace {

const char* const kHead = "<start_of_turn>user\n# Prompt\n";
const char* const kMidA = "\n\n# Response A\n";
const char* const kMidB = "\n\n# Response B\n";
const char* const kTail = "\n\n# Which response is better?<end_of_turn>\n<start_of_turn>model\n";
const char* const kMarker = " [...] ";
const char* const kTurn = "\n\n# Turn {}\n";
const char* const kMidLength = "\n\n# Response {} ({} tokens)\n";
const char* const kMidResponse = "\n\n# Response\n";
const char* const kTailResponse = "\n\n# How good is this response?<end_of_turn>\n<start_of_turn>model\n";

std::vector<int32_t> to32(const std::vector<int>& v) { return {v.begin(), v.end()}; }

}  // namespace

std::vector<int64_t> section_budgets(const std::vector<int64_t>& lengths, int64_t budget) {
  std::vector<size_t> order(lengths.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) { return lengths[a] < lengths[b]; });
  std::vector<int64_t> out(lengths.size(), 0);
  int64_t remaining = std::max<int64_t>(budget, 0);
  for (size_t k = 0; k < order.size(); ++k) {
    const int64_t share = remaining / static_cast<int64_t>(order.size() - k);
    out[order[k]] = std::min(lengths[order[k]], share);
    remaining -= out[order[k]];
  }
  // Integer division may leave a few tokens; give them to truncated sections, in order.
  for (size_t i = 0; i < out.size() && remaining > 0; ++i) {
    const int64_t extra = std::min(remaining, lengths[i] - out[i]);
    out[i] += extra;
    remaining -= extra;
  }
  return out;
}

std::vector<int32_t> head_tail(const std::vector<int32_t>& ids, int64_t budget, const std::vector<int32_t>& marker) {
  return head_tail(ids, static_cast<int64_t>(ids.size()), budget, marker);
}

std::vector<int32_t> head_tail(const std::vector<int32_t>& ids, int64_t length, int64_t budget,
                               const std::vector<int32_t>& marker) {
  const auto n = length;
  if (n <= budget) return ids;
  const auto m = static_cast<int64_t>(marker.size());
  if (budget < m + 2) return {ids.begin(), ids.begin() + std::max<int64_t>(budget, 0)};
  const int64_t keep = budget - m;
  const int64_t head = (keep + 1) / 2, tail = keep - head;
  std::vector<int32_t> out(ids.begin(), ids.begin() + head);
  out.insert(out.end(), marker.begin(), marker.end());
  out.insert(out.end(), ids.end() - tail, ids.end());
  return out;
}

PairEncoder::PairEncoder(const Tokenizer& tokenizer, int64_t max_len, bool show_lengths, size_t full_below_bytes)
    : tok_(tokenizer), max_len_(max_len), show_lengths_(show_lengths), full_below_bytes_(full_below_bytes) {
  head_ = to32(tok_.encode(kHead));
  head_.insert(head_.begin(), tok_.bos_id());
  mid_a_ = to32(tok_.encode(kMidA));
  mid_b_ = to32(tok_.encode(kMidB));
  tail_ = to32(tok_.encode(kTail));
  marker_ = to32(tok_.encode(kMarker));
  mid_response_ = to32(tok_.encode(kMidResponse));
  tail_response_ = to32(tok_.encode(kTailResponse));
  fixed_ = head_.size() + mid_a_.size() + mid_b_.size() + tail_.size();
  if (show_lengths_) {
    // The longest note a heading can gain over the plain one (seven-digit counts), for both.
    const auto longest = to32(tok_.encode(fmt::format(kMidLength, "A", 9999999)));
    length_reserve_ = 2 * (longest.size() > mid_a_.size() ? longest.size() - mid_a_.size() : 0);
    fixed_ += length_reserve_;
  }
  check(max_len_ > static_cast<int64_t>(fixed_) + 3, "max_len {} cannot hold the template ({} tokens) and the texts",
        max_len_, fixed_);
}

namespace {

// Unicode code points of all turns (UTF-8: every byte that does not continue a sequence).
int64_t code_points(const std::vector<std::string>& turns) {
  int64_t n = 0;
  for (const auto& t : turns)
    for (const unsigned char c : t) n += (c & 0xC0) != 0x80;
  return n;
}

// Tokens at a window's cut that a cut through the text could change: dropped.
constexpr int64_t kCutMargin = 64;

// The largest UTF-8 character boundary <= pos.
size_t char_boundary(const std::string& s, size_t pos) {
  while (pos > 0 && pos < s.size() && (static_cast<unsigned char>(s[pos]) & 0xC0) == 0x80) --pos;
  return pos;
}

}  // namespace

PairEncoder::Section PairEncoder::section(const std::vector<std::string>& turns) const {
  Section out;
  for (size_t k = 0; k < turns.size(); ++k) {
    if (k > 0) {
      const auto sep = tok_.encode(fmt::format(kTurn, k + 1));
      out.ids.insert(out.ids.end(), sep.begin(), sep.end());
      out.length += static_cast<int64_t>(sep.size());
    }
    if (turns[k].size() > full_below_bytes_) {
      append_ends(turns[k], out);
      continue;
    }
    const auto ids = tok_.encode(turns[k]);
    out.ids.insert(out.ids.end(), ids.begin(), ids.end());
    out.length += static_cast<int64_t>(ids.size());
  }
  return out;
}

void PairEncoder::append_ends(const std::string& text, Section& out) const {
  // A window of `bytes` at each end; grows until each keeps max_len tokens past the margin, or
  // the two would meet (then the whole turn is tokenized after all).
  const int64_t need = max_len_ + kCutMargin;
  for (size_t bytes = static_cast<size_t>(need) * 8;; bytes *= 2) {
    if (2 * bytes >= text.size()) {
      const auto ids = tok_.encode(text);
      out.ids.insert(out.ids.end(), ids.begin(), ids.end());
      out.length += static_cast<int64_t>(ids.size());
      return;
    }
    const size_t head_end = char_boundary(text, bytes), tail_begin = char_boundary(text, text.size() - bytes);
    const auto head = tok_.encode(std::string_view(text).substr(0, head_end));
    const auto tail = tok_.encode(std::string_view(text).substr(tail_begin));
    if (static_cast<int64_t>(head.size()) < need || static_cast<int64_t>(tail.size()) < need) continue;
    const double per_byte = static_cast<double>(head.size() + tail.size()) /
                            static_cast<double>(head_end + (text.size() - tail_begin));
    out.ids.insert(out.ids.end(), head.begin(), head.end() - kCutMargin);
    out.ids.insert(out.ids.end(), tail.begin() + kCutMargin, tail.end());
    out.length += std::max(static_cast<int64_t>(std::llround(per_byte * static_cast<double>(text.size()))),
                           static_cast<int64_t>(head.size() + tail.size()) - 2 * kCutMargin + 1);
    ++out.estimated;
    return;
  }
}

EncodedPair PairEncoder::encode(const Pair& pair, bool swap_ab) const {
  const auto prompt = section(pair.prompt);
  const auto a = section(swap_ab ? pair.response_b : pair.response_a);
  const auto b = section(swap_ab ? pair.response_a : pair.response_b);
  EncodedPair out;
  out.label = pair.label;
  if (swap_ab && (pair.label == kLabelA || pair.label == kLabelB)) out.label = pair.label == kLabelA ? kLabelB : kLabelA;
  const std::vector<int64_t> lengths{prompt.length, a.length, b.length};
  out.estimated_sections = prompt.estimated + a.estimated + b.estimated;
  out.full_length = static_cast<int64_t>(fixed_) + lengths[0] + lengths[1] + lengths[2];
  out.tokens_a = lengths[1];
  out.tokens_b = lengths[2];
  out.chars_a = code_points(swap_ab ? pair.response_b : pair.response_a);
  out.chars_b = code_points(swap_ab ? pair.response_a : pair.response_b);
  const auto heading_a = heading(false, lengths[1]);
  const auto heading_b = heading(true, lengths[2]);
  // Tokens the length notes do not use go back to the texts.
  const int64_t unused = static_cast<int64_t>(mid_a_.size() + mid_b_.size() + length_reserve_) -
                         static_cast<int64_t>(heading_a.size() + heading_b.size());
  const auto budgets = section_budgets(lengths, max_len_ - static_cast<int64_t>(fixed_) + unused);
  auto& ids = out.ids;
  ids.reserve(static_cast<size_t>(std::min(out.full_length, max_len_)));
  const auto append = [&](const std::vector<int32_t>& v) { ids.insert(ids.end(), v.begin(), v.end()); };
  append(head_);
  append(head_tail(prompt.ids, prompt.length, budgets[0], marker_));
  append(heading_a);
  append(head_tail(a.ids, a.length, budgets[1], marker_));
  append(heading_b);
  append(head_tail(b.ids, b.length, budgets[2], marker_));
  append(tail_);
  return out;
}

std::pair<EncodedPair, EncodedPair> PairEncoder::encode_responses(const Pair& pair) const {
  const auto prompt = section(pair.prompt);
  const Section answers[2] = {section(pair.response_a), section(pair.response_b)};
  const int64_t fixed = static_cast<int64_t>(head_.size() + mid_response_.size() + tail_response_.size());
  EncodedPair out[2];
  for (int k = 0; k < 2; ++k) {
    const auto& answer = answers[k];
    auto& e = out[k];
    e.label = pair.label;
    e.estimated_sections = prompt.estimated + answer.estimated;
    e.full_length = fixed + prompt.length + answer.length;
    e.tokens_a = answers[0].length;
    e.tokens_b = answers[1].length;
    e.chars_a = code_points(pair.response_a);
    e.chars_b = code_points(pair.response_b);
    const auto budgets = section_budgets({prompt.length, answer.length}, max_len_ - fixed);
    const auto append = [&](const std::vector<int32_t>& v) { e.ids.insert(e.ids.end(), v.begin(), v.end()); };
    append(head_);
    append(head_tail(prompt.ids, prompt.length, budgets[0], marker_));
    append(mid_response_);
    append(head_tail(answer.ids, answer.length, budgets[1], marker_));
    append(tail_response_);
  }
  return {std::move(out[0]), std::move(out[1])};
}

std::vector<int32_t> PairEncoder::heading(bool b, int64_t tokens) const {
  if (!show_lengths_) return b ? mid_b_ : mid_a_;
  return to32(tok_.encode(fmt::format(kMidLength, b ? "B" : "A", tokens)));
}

uint64_t PairEncoder::fingerprint() const {
  uint64_t h = tok_.fingerprint() ^ (static_cast<uint64_t>(max_len_) * 0x9E3779B97F4A7C15ULL);
  if (full_below_bytes_ != kFullBelowBytes) h = (h ^ full_below_bytes_) * 1099511628211ULL;
  if (show_lengths_) h = (h ^ 0x5151) * 1099511628211ULL;
  for (const char* piece : {kHead, kMidA, kMidB, kTail, kMarker, kTurn})
    for (const char* c = piece; *c != '\0'; ++c) h = (h ^ static_cast<unsigned char>(*c)) * 1099511628211ULL;
  return h;
}

}  // namespace arena
