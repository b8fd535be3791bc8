// Class probabilities and metrics of the classifier on a split, spread over the ranks: rank r takes
// rows r, r+W, …, batches them by length, and one host all-reduce assembles the [n, L] result on
// every rank. Metrics: accuracy (argmax) and log loss (mean −log p[label], p clipped to 1e-15 like
// sklearn's log_loss, the LMSYS metric).
#pragma once

#include <torch/types.h>

#include <cstdint>

#include "data/token_cache.h"
#include "model/gemma/classifier.h"

namespace arena {

// [n, num_labels] float64 on the CPU, identical on every rank (every rank must call it).
torch::Tensor class_probabilities(GemmaClassifierImpl& model, const TokenizedData& d, int64_t rows_per_batch,
                                  const torch::Device& device);

struct EvalResult {
  int64_t n = 0;
  double accuracy = 0;
  double log_loss = 0;
};

// Metrics of probabilities [n, L] against d's labels (rows without a label are not counted).
EvalResult score(const torch::Tensor& probs, const TokenizedData& d);

EvalResult evaluate(GemmaClassifierImpl& model, const TokenizedData& d, int64_t rows_per_batch,
                    const torch::Device& device);

}  // namespace arena
