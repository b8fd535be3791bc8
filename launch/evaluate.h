// Class probabilities and metrics of the classifier on a split, spread over the ranks: rank r takes
// rows r, r+W, …, batches them by length, and one host all-reduce assembles the [n, L] result on
// every rank. Metrics: accuracy (argmax) and log loss (mean −log p[label], p clipped to 1e-15 like
// sklearn's log_loss, the LMSYS metric), with its standard error over the rows.
#pragma once

#include <torch/types.h>

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "data/token_cache.h"
#include "model/gemma/classifier.h"

namespace arena {

// [n, num_labels] float64 on the CPU, identical on every rank (every rank must call it).
// `progress`: a label for a live progress bar over rank 0's rows (launch/progress.h); none if null.
torch::Tensor class_probabilities(GemmaClassifierImpl& model, const TokenizedData& d, int64_t rows_per_batch,
                                  const torch::Device& device, const char* progress = nullptr);

// A reward model (one output; reward data) gets the same: its "probabilities" are Bradley-Terry's,
// P(A preferred) = sigmoid(r_A - r_B), so accuracy is the pairwise accuracy (r_chosen > r_rejected).
// The rewards themselves, [n, 2] (r_A, r_B) float64 on the CPU on every rank.
torch::Tensor reward_scores(GemmaClassifierImpl& model, const TokenizedData& d, int64_t rows_per_batch,
                            const torch::Device& device, const char* progress = nullptr);

// Mean of r_chosen - r_rejected over the labelled rows (NaN without any).
double mean_margin(const torch::Tensor& rewards, const TokenizedData& d);

struct EvalResult {
  int64_t n = 0;
  double accuracy = 0;
  double log_loss = 0;
  double log_loss_se = 0;  // standard error of the mean per-row loss (95 % interval: ±1.96·se)
  double mean_margin = std::nan("");  // reward models: mean r_chosen - r_rejected; NaN otherwise
  // Binomial standard error of the accuracy from the row count.
  double accuracy_se() const { return n > 0 ? std::sqrt(accuracy * (1 - accuracy) / static_cast<double>(n)) : 0.0; }
};

// "accuracy 0.5800 ± 0.0684, log loss 0.6772 ± 0.0123 (n 200; 95 % intervals from the rows)"
std::string describe_eval(const EvalResult& r);

// Metrics of probabilities [n, L] against d's labels (rows without a label are not counted).
EvalResult score(const torch::Tensor& probs, const TokenizedData& d);

// Probabilities of A/B-swapped pairs mapped back to the original order: the swapped pair's "A
// wins" is the original's "B wins" (columns 0 and 1 exchanged; a tie column stays).
torch::Tensor unswap(const torch::Tensor& swapped_probs);

// How a model treats the order of A and B, from its probabilities on the pairs as given and on the
// swapped pairs mapped back (unswap): consistency is the share of rows whose predicted winner is
// the same both ways; the accuracies are those of the given order on the rows A won, B won, tied.
struct SwapReport {
  int64_t n = 0;
  double consistency = 0;
  int64_t n_a = 0, n_b = 0, n_tie = 0;
  double accuracy_a_won = 0, accuracy_b_won = 0, accuracy_tie = 0;
};
SwapReport swap_report(const torch::Tensor& probs, const torch::Tensor& unswapped_probs, const TokenizedData& d);

// score(class_probabilities(...)); `probs` not null: also receives the probabilities.
EvalResult evaluate(GemmaClassifierImpl& model, const TokenizedData& d, int64_t rows_per_batch,
                    const torch::Device& device, torch::Tensor* probs = nullptr);

// The probability `probs` [n, L] gives each row's own label, in row order; rows without a label
// are left out (for the TensorBoard histogram of a model's confidence in the right answer).
std::vector<double> label_probabilities(const torch::Tensor& probs, const TokenizedData& d);

}  // namespace arena
