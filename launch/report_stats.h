// The numbers behind `arena report`'s model and data charts, from plain rows (no torch):
//   calibration   reliability bins of the top-class confidence and the expected calibration error
//                 ECE = sum over bins of (rows in bin / rows) * |accuracy - mean confidence|
//   confusion     counts[true label][predicted label] (argmax)
//   by length     accuracy in buckets of the length before truncation (equal-count buckets)
//   swap          share of rows whose predicted winner is the same in A-B and B-A order
//   win rates     per model name: battles, wins, ties; win rate = (wins + ties / 2) / battles
//   length diff   winners counted in bins of (tokens of A - tokens of B)
// Rows without a label (-1) are left out of everything that needs one.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "launch/report_data.h"
#include "launch/report_run.h"

namespace arena {

int predicted_class(const std::vector<double>& probs);  // argmax; ties go to the lower class

struct ReliabilityBin {
  double lo = 0, hi = 0;  // confidence range [lo, hi)
  int64_t n = 0;
  double confidence = 0, accuracy = 0;  // means over the bin's rows
};
struct Reliability {
  std::vector<ReliabilityBin> bins;
  double ece = 0;
  int64_t n = 0;
};
// `bins` equal-width bins over [1 / classes, 1] (the top class's probability cannot be lower).
Reliability reliability(const std::vector<TestPrediction>& rows, int bins = 10);

// counts[t][p] over labelled rows; classes = the probability columns.
std::vector<std::vector<int64_t>> confusion(const std::vector<TestPrediction>& rows);

struct LengthBucket {
  int64_t lo = 0, hi = 0;  // tokens, inclusive
  int64_t n = 0;
  double accuracy = 0;
};
// Up to `buckets` equal-count buckets of rows with a known length (rows of one length stay together).
std::vector<LengthBucket> accuracy_by_length(const std::vector<TestPrediction>& rows, int buckets = 5);

struct SwapStats {
  int64_t n = 0;
  double consistency = 0;
  double accuracy = 0, accuracy_swapped = 0, accuracy_averaged = 0;
};
// n = 0 when no row has swapped probabilities.
SwapStats swap_stats(const std::vector<TestPrediction>& rows);

struct ModelWins {
  std::string model;
  int64_t battles = 0, wins = 0, ties = 0;
  double win_rate() const { return battles > 0 ? (static_cast<double>(wins) + 0.5 * static_cast<double>(ties)) /
                                                     static_cast<double>(battles) : 0.0; }
};
// Models with at least `min_battles` labelled battles, highest win rate first.
std::vector<ModelWins> win_rates(const std::vector<DataRow>& rows, int64_t min_battles);

struct LengthDiffBin {
  int64_t lo = 0, hi = 0;   // tokens of A minus tokens of B, inclusive
  int64_t winners[3] = {0, 0, 0};  // model_a, model_b, tie
};
// Bins of width `width` tokens, the outermost ones open-ended at +-limit.
std::vector<LengthDiffBin> winner_by_length_diff(const std::vector<DataRow>& rows, int64_t width, int64_t limit);

}  // namespace arena
