// Trivial predictors a preference model must beat, scored on the same rows as the model:
//   majority       always the most frequent label of the training rows;
//   longer answer  A when A's answer is longer, B when B's is (ties in length: the training
//                  rows' more frequent of A and B), by Unicode code points and by tokens before
//                  truncation; never predicts a tie;
//   label prior    the training rows' label frequencies as probabilities: its log loss is what a
//                  model that learned nothing about the texts scores (the LMSYS metric's floor).
// No torch: labels and lengths come from TokenizedData (data/token_cache.h).
#pragma once

#include <cstdint>
#include <vector>

#include "data/token_cache.h"

namespace arena {

struct Baselines {
  int64_t n = 0;                      // labelled rows scored
  int64_t non_tie = 0;                // of which not ties
  int majority_label = 0;
  double majority_accuracy = 0;
  double longer_chars_accuracy = 0;   // on all n rows (a tie row always counts as wrong)
  double longer_tokens_accuracy = 0;
  double longer_chars_non_tie_accuracy = 0;  // on the non-tie rows: the figure usually quoted
  double longer_tokens_non_tie_accuracy = 0;
  std::vector<double> prior;          // per label, from the training rows
  double prior_log_loss = 0;
};

// Baselines on `eval`, fitted on `train` (falls back to `eval`'s own labels when `train` has none).
// num_labels: 2 (A/B) or 3 (A/B/tie).
Baselines compute_baselines(const TokenizedData& eval, const TokenizedData& train, int num_labels);

}  // namespace arena
