#include "data/baselines.h"

#include <algorithm>
#include <cmath>

#include "common/error.h"
#include "data/pair.h"

namespace arena {

Baselines compute_baselines(const TokenizedData& eval, const TokenizedData& train, int num_labels) {
  check(num_labels == 2 || num_labels == 3, "baselines: num_labels must be 2 or 3 (got {})", num_labels);
  const auto& fit = std::any_of(train.labels.begin(), train.labels.end(), [](int l) { return l >= 0; }) ? train : eval;
  std::vector<double> counts(static_cast<size_t>(num_labels), 0.0);
  for (const int l : fit.labels)
    if (l >= 0 && l < num_labels) counts[static_cast<size_t>(l)] += 1;
  double total = 0;
  for (const double c : counts) total += c;
  Baselines b;
  b.prior.resize(counts.size());
  for (size_t k = 0; k < counts.size(); ++k) b.prior[k] = total > 0 ? counts[k] / total : 1.0 / num_labels;
  b.majority_label = static_cast<int>(std::max_element(counts.begin(), counts.end()) - counts.begin());
  const int even_pick = counts[kLabelB] > counts[kLabelA] ? kLabelB : kLabelA;  // equal lengths

  int64_t majority = 0, chars = 0, tokens = 0, chars_nt = 0, tokens_nt = 0;
  double nll = 0;
  const auto longer = [&](int64_t a, int64_t b2) { return a > b2 ? kLabelA : b2 > a ? kLabelB : even_pick; };
  for (size_t r = 0; r < eval.labels.size(); ++r) {
    const int l = eval.labels[r];
    if (l < 0 || l >= num_labels) continue;
    ++b.n;
    const bool tie = l == kLabelTie;
    b.non_tie += !tie;
    majority += l == b.majority_label;
    const bool by_chars = longer(eval.answer_chars[2 * r], eval.answer_chars[2 * r + 1]) == l;
    const bool by_tokens = longer(eval.answer_tokens[2 * r], eval.answer_tokens[2 * r + 1]) == l;
    chars += by_chars;
    tokens += by_tokens;
    chars_nt += !tie && by_chars;
    tokens_nt += !tie && by_tokens;
    nll -= std::log(std::max(b.prior[static_cast<size_t>(l)], 1e-15));  // clipped like sklearn's log_loss
  }
  const auto rate = [](int64_t k, int64_t n) { return n > 0 ? static_cast<double>(k) / static_cast<double>(n) : 0.0; };
  b.majority_accuracy = rate(majority, b.n);
  b.longer_chars_accuracy = rate(chars, b.n);
  b.longer_tokens_accuracy = rate(tokens, b.n);
  b.longer_chars_non_tie_accuracy = rate(chars_nt, b.non_tie);
  b.longer_tokens_non_tie_accuracy = rate(tokens_nt, b.non_tie);
  b.prior_log_loss = b.n > 0 ? nll / static_cast<double>(b.n) : 0.0;
  return b;
}

}  // namespace arena
