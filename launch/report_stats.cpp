#include "launch/report_stats.h"

#include <algorithm>
#include <cmath>
#include <map>

namespace arena {

int predicted_class(const std::vector<double>& probs) {
  int best = 0;
  for (int k = 1; k < static_cast<int>(probs.size()); ++k)
    if (probs[k] > probs[best]) best = k;
  return best;
}

Reliability reliability(const std::vector<TestPrediction>& rows, int bins) {
  Reliability r;
  if (rows.empty() || bins < 1) return r;
  const double floor = 1.0 / static_cast<double>(rows.front().probs.size());
  for (int b = 0; b < bins; ++b)
    r.bins.push_back({floor + (1 - floor) * b / bins, floor + (1 - floor) * (b + 1) / bins, 0, 0, 0});
  for (const auto& p : rows) {
    if (p.label < 0) continue;
    const int k = predicted_class(p.probs);
    const double conf = p.probs[k];
    const int b = std::clamp(static_cast<int>((conf - floor) / (1 - floor) * bins), 0, bins - 1);
    auto& bin = r.bins[b];
    ++bin.n;
    bin.confidence += conf;
    bin.accuracy += k == p.label;
    ++r.n;
  }
  for (auto& bin : r.bins) {
    if (bin.n == 0) continue;
    bin.confidence /= static_cast<double>(bin.n);
    bin.accuracy /= static_cast<double>(bin.n);
    r.ece += static_cast<double>(bin.n) / static_cast<double>(r.n) * std::abs(bin.accuracy - bin.confidence);
  }
  return r;
}

std::vector<std::vector<int64_t>> confusion(const std::vector<TestPrediction>& rows) {
  const size_t classes = rows.empty() ? 0 : rows.front().probs.size();
  std::vector<std::vector<int64_t>> m(classes, std::vector<int64_t>(classes, 0));
  for (const auto& p : rows)
    if (p.label >= 0 && static_cast<size_t>(p.label) < classes) ++m[p.label][predicted_class(p.probs)];
  return m;
}

std::vector<LengthBucket> accuracy_by_length(const std::vector<TestPrediction>& rows, int buckets) {
  std::vector<const TestPrediction*> known;
  for (const auto& p : rows)
    if (p.label >= 0 && p.tokens >= 0) known.push_back(&p);
  std::sort(known.begin(), known.end(), [](auto* a, auto* b) { return a->tokens < b->tokens; });
  std::vector<LengthBucket> out;
  const size_t n = known.size();
  for (size_t start = 0; start < n;) {
    size_t end = std::max(start + 1, n * (out.size() + 1) / static_cast<size_t>(std::max(buckets, 1)));
    while (end < n && known[end]->tokens == known[end - 1]->tokens) ++end;
    LengthBucket b{known[start]->tokens, known[end - 1]->tokens, static_cast<int64_t>(end - start), 0};
    int64_t right = 0;
    for (size_t i = start; i < end; ++i) right += predicted_class(known[i]->probs) == known[i]->label;
    b.accuracy = static_cast<double>(right) / static_cast<double>(b.n);
    out.push_back(b);
    start = end;
  }
  return out;
}

SwapStats swap_stats(const std::vector<TestPrediction>& rows) {
  SwapStats s;
  int64_t same = 0, labelled = 0, right = 0, right_swapped = 0, right_avg = 0;
  for (const auto& p : rows) {
    if (p.swapped_probs.size() != p.probs.size()) continue;
    ++s.n;
    const int a = predicted_class(p.probs), b = predicted_class(p.swapped_probs);
    same += a == b;
    if (p.label < 0) continue;
    std::vector<double> avg(p.probs.size());
    for (size_t k = 0; k < avg.size(); ++k) avg[k] = (p.probs[k] + p.swapped_probs[k]) / 2;
    ++labelled;
    right += a == p.label;
    right_swapped += b == p.label;
    right_avg += predicted_class(avg) == p.label;
  }
  const auto share = [](int64_t k, int64_t n) { return n > 0 ? static_cast<double>(k) / static_cast<double>(n) : 0.0; };
  s.consistency = share(same, s.n);
  s.accuracy = share(right, labelled);
  s.accuracy_swapped = share(right_swapped, labelled);
  s.accuracy_averaged = share(right_avg, labelled);
  return s;
}

std::vector<ModelWins> win_rates(const std::vector<DataRow>& rows, int64_t min_battles) {
  std::map<std::string, ModelWins> by_model;
  for (const auto& r : rows) {
    if (r.label < 0 || r.model_a.empty() || r.model_b.empty()) continue;
    for (int side = 0; side < 2; ++side) {
      auto& m = by_model[side == 0 ? r.model_a : r.model_b];
      ++m.battles;
      m.wins += r.label == side;
      m.ties += r.label == 2;
    }
  }
  std::vector<ModelWins> out;
  for (auto& [name, m] : by_model) {
    m.model = name;
    if (m.battles >= min_battles) out.push_back(m);
  }
  std::stable_sort(out.begin(), out.end(), [](const ModelWins& a, const ModelWins& b) {
    return a.win_rate() > b.win_rate();
  });
  return out;
}

std::vector<LengthDiffBin> winner_by_length_diff(const std::vector<DataRow>& rows, int64_t width, int64_t limit) {
  std::vector<LengthDiffBin> bins;
  for (int64_t lo = -limit; lo < limit; lo += width) bins.push_back({lo, lo + width - 1, {0, 0, 0}});
  if (bins.empty()) return bins;
  for (const auto& r : rows) {
    if (r.label < 0 || r.label > 2) continue;
    const int64_t d = std::clamp(r.tokens_a - r.tokens_b, -limit, limit - 1);
    ++bins[static_cast<size_t>((d + limit) / width)].winners[r.label];
  }
  return bins;
}

}  // namespace arena
