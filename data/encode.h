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
//
// Bounded work per row: a turn longer than full_below_bytes (64 KiB by default, over every row of
// the real data) is not tokenized whole. Only a window at each end is, large enough to hold
// max_len tokens past a margin at the cut (the window grows until it does); the margin's tokens,
// which a cut through the text could change, are dropped. The ids kept are those of the whole
// turn's tokenization (tested against it); the turn's token count is then an estimate from the
// windows' tokens per byte, and the row is counted in `estimated_sections`.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
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
  int estimated_sections = 0;  // turns tokenized only at their ends (their counts are estimates)
};

// Budgets for sections of `lengths` within `budget` tokens (water-filling, order-preserving).
std::vector<int64_t> section_budgets(const std::vector<int64_t>& lengths, int64_t budget);

// `ids` cut to `budget` tokens: head + marker + tail when it does not fit (only a head when the
// budget cannot hold the marker and a token on each side).
std::vector<int32_t> head_tail(const std::vector<int32_t>& ids, int64_t budget, const std::vector<int32_t>& marker);
// The same for a section whose whole length is `length` tokens of which `ids` holds both ends
// (length >= ids.size(); the middle is not needed once it is cut away).
std::vector<int32_t> head_tail(const std::vector<int32_t>& ids, int64_t length, int64_t budget,
                               const std::vector<int32_t>& marker);

class PairEncoder {
 public:
  // Throws when max_len cannot hold the template itself. show_lengths: each answer's heading also
  // states its length before truncation ("# Response A (312 tokens)"), which head+tail truncation
  // otherwise hides; off by default (the seed recipe's template).
  PairEncoder(const Tokenizer& tokenizer, int64_t max_len, bool show_lengths = false,
              size_t full_below_bytes = kFullBelowBytes);
  static constexpr size_t kFullBelowBytes = 64 * 1024;
  // swap_ab: encode B as A and A as B, and swap the label (A<->B; a tie stays a tie).
  EncodedPair encode(const Pair& pair, bool swap_ab = false) const;
  // Each answer with its prompt, for a reward model (train.objective = reward), in the same style:
  //   <bos> "<start_of_turn>user\n# Prompt\n" PROMPT "\n\n# Response\n" RESPONSE
  //         "\n\n# How good is this response?<end_of_turn>\n<start_of_turn>model\n"
  // with the same fair head+tail truncation over the two sections: {A's sequence, B's sequence}.
  // chars/tokens of both answers are filled in each as in encode(); full_length is the sequence's.
  // (The token cache's fingerprint covers encode()'s template only: reward runs do not cache.)
  std::pair<EncodedPair, EncodedPair> encode_responses(const Pair& pair) const;
  int64_t template_tokens() const { return static_cast<int64_t>(fixed_); }
  int64_t max_len() const { return max_len_; }
  // Identifies template + max_len + tokenizer for token caches.
  uint64_t fingerprint() const;

 private:
  // A section's ids; for a turn over full_below_bytes_ only its ends, and `length` then counts
  // the estimated tokens of the whole (ids.size() otherwise).
  struct Section {
    std::vector<int32_t> ids;
    int64_t length = 0;
    int estimated = 0;
  };
  Section section(const std::vector<std::string>& turns) const;
  // The ids of a long turn's head and tail windows, and its estimated token count.
  void append_ends(const std::string& text, Section& out) const;
  const Tokenizer& tok_;
  // The heading of answer A or B, with its length when show_lengths_.
  std::vector<int32_t> heading(bool b, int64_t tokens) const;
  int64_t max_len_;
  bool show_lengths_ = false;
  size_t length_reserve_ = 0;  // tokens kept free for the two length notes
  std::vector<int32_t> head_, mid_a_, mid_b_, tail_, marker_, mid_response_, tail_response_;
  size_t fixed_ = 0;
  size_t full_below_bytes_ = kFullBelowBytes;
};

}  // namespace arena
