// Pair -> token ids: one documented template and head+tail truncation to max_len.
//
// Template (each piece tokenized on its own, ids concatenated; nothing else is added):
//   <bos> "<start_of_turn>user\n# Prompt\n"  PROMPT
//         "\n\n# Response A\n"                RESPONSE A
//         "\n\n# Response B\n"                RESPONSE B
//         "\n\n# Which response is better?<end_of_turn>\n<start_of_turn>model\n"
// A section with several turns joins them with "\n\n# Turn k\n" (k = 2, 3, ...), in order.
// The classifier pools the last token, so the fixed question at the end is always present.
//
// Truncation: every template token counts against max_len. The rest is shared between the three
// sections fairly: the shortest sections keep all their tokens, and what they leave unused flows to
// the longer ones (water-filling). A section over its share keeps its first and last tokens
// around a visible marker " [...] " (head gets the extra token when the split is odd).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "data/pair.h"
#include "data/tokenizer.h"

namespace arena {

struct EncodedPair {
  std::vector<int32_t> ids;    // <= max_len tokens
  int64_t full_length = 0;     // length before truncation (template included)
  // Each answer's size before truncation (all turns of A, of B): Unicode code points and tokens.
  // Head+tail truncation hides them from the model; the "longer answer wins" baseline uses them.
  int64_t chars_a = 0, chars_b = 0, tokens_a = 0, tokens_b = 0;
  int label = kLabelNone;
};

// Budgets for sections of `lengths` within `budget` tokens (water-filling, order-preserving).
std::vector<int64_t> section_budgets(const std::vector<int64_t>& lengths, int64_t budget);

// `ids` cut to `budget` tokens: head + marker + tail when it does not fit (only a head when the
// budget cannot hold the marker and a token on each side).
std::vector<int32_t> head_tail(const std::vector<int32_t>& ids, int64_t budget, const std::vector<int32_t>& marker);

class PairEncoder {
 public:
  // Throws when max_len cannot hold the template itself. show_lengths: each answer's heading also
  // states its length before truncation ("# Response A (312 tokens)"), which head+tail truncation
  // otherwise hides; off by default (the seed recipe's template).
  PairEncoder(const Tokenizer& tokenizer, int64_t max_len, bool show_lengths = false);
  // swap_ab: encode B as A and A as B, and swap the label (A<->B; a tie stays a tie).
  EncodedPair encode(const Pair& pair, bool swap_ab = false) const;
  int64_t template_tokens() const { return static_cast<int64_t>(fixed_); }
  int64_t max_len() const { return max_len_; }
  // Identifies template + max_len + tokenizer for token caches.
  uint64_t fingerprint() const;

 private:
  std::vector<int32_t> section(const std::vector<std::string>& turns) const;
  const Tokenizer& tok_;
  // The heading of answer A or B, with its length when show_lengths_.
  std::vector<int32_t> heading(bool b, int64_t tokens) const;
  int64_t max_len_;
  bool show_lengths_ = false;
  size_t length_reserve_ = 0;  // tokens kept free for the two length notes
  std::vector<int32_t> head_, mid_a_, mid_b_, tail_, marker_;
  size_t fixed_ = 0;
};

}  // namespace arena
