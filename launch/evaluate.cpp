#include "launch/evaluate.h"

#include <fmt/format.h>
#include <torch/torch.h>

#include <algorithm>
#include <cmath>
#include <numeric>

#include "common/error.h"
#include "dist/world.h"
#include "launch/batches.h"
#include "launch/progress.h"

namespace arena {

namespace {

// The model's raw outputs on every row of `d`, [n, W] float64 on the CPU, identical on every rank:
// the logits (W = num_labels), or for reward data the rewards of the A and B sequences (W = 2).
torch::Tensor raw_outputs(GemmaClassifierImpl& model, const TokenizedData& d, int64_t rows_per_batch,
                          const torch::Device& device, const char* progress) {
  const auto& w = world();
  const bool reward = d.has_responses();
  check(!reward || model.config().num_labels == 1,
        "reward data (two sequences per pair) needs a one-output model, this one has {} outputs",
        model.config().num_labels);
  const int64_t n = d.size(), width = reward ? 2 : model.config().num_labels;
  auto out = torch::zeros({n, width}, torch::kFloat64);
  std::vector<int64_t> mine;
  for (int64_t i = w.rank; i < n; i += w.size) mine.push_back(i);
  const auto length = [&](int64_t i) {
    const int64_t a = d.offsets[i + 1] - d.offsets[i];
    return reward ? std::max(a, d.offsets_b[i + 1] - d.offsets_b[i]) : a;
  };
  std::stable_sort(mine.begin(), mine.end(), [&](int64_t a, int64_t b) { return length(a) < length(b); });
  const bool was_training = model.is_training();
  model.eval();
  ProgressBar bar(progress ? progress : "", "rows", static_cast<int64_t>(mine.size()), progress && w.is_root());
  {
    torch::NoGradGuard no_grad;
    for (size_t start = 0; start < mine.size(); start += static_cast<size_t>(rows_per_batch)) {
      const std::vector<int64_t> rows(mine.begin() + start,
                                      mine.begin() + std::min(mine.size(), start + static_cast<size_t>(rows_per_batch)));
      const auto b = collate(d, rows, device);
      auto y = model.forward(b.ids, b.mask).to(torch::kFloat64).cpu();
      if (reward) y = y.reshape({2, b.rows}).t();  // [A sequences; B sequences] -> [rows, (r_A, r_B)]
      out.index_copy_(0, torch::tensor(rows, torch::kInt64), y);
      bar.update(static_cast<int64_t>(start + rows.size()));
    }
  }
  bar.finish();
  if (was_training) model.train();
  host_sum(out.data_ptr<double>(), static_cast<int>(out.numel()), "MPI_Allreduce of the evaluation outputs");
  return out;
}

}  // namespace

torch::Tensor class_probabilities(GemmaClassifierImpl& model, const TokenizedData& d, int64_t rows_per_batch,
                                  const torch::Device& device, const char* progress) {
  const auto raw = raw_outputs(model, d, rows_per_batch, device, progress);
  // Logits: softmax as before (in fp32, as the training loss sees them). Rewards: the Bradley-Terry
  // probabilities, softmax(r_A, r_B) = (sigmoid(r_A - r_B), sigmoid(r_B - r_A)), in fp64.
  return d.has_responses() ? torch::softmax(raw, -1) : torch::softmax(raw.to(torch::kFloat32), -1).to(torch::kFloat64);
}

torch::Tensor reward_scores(GemmaClassifierImpl& model, const TokenizedData& d, int64_t rows_per_batch,
                            const torch::Device& device, const char* progress) {
  check(d.has_responses(), "reward scores need reward data (train.objective = reward)");
  return raw_outputs(model, d, rows_per_batch, device, progress);
}

double mean_margin(const torch::Tensor& rewards, const TokenizedData& d) {
  const auto r = rewards.accessor<double, 2>();
  double sum = 0;
  int64_t n = 0;
  for (int64_t i = 0; i < d.size(); ++i) {
    const int label = d.labels[i];
    if (label != 0 && label != 1) continue;
    sum += label == 0 ? r[i][0] - r[i][1] : r[i][1] - r[i][0];
    ++n;
  }
  return n > 0 ? sum / static_cast<double>(n) : std::nan("");
}

EvalResult score(const torch::Tensor& probs, const TokenizedData& d) {
  EvalResult r;
  const auto p = probs.accessor<double, 2>();
  double correct = 0, loss = 0, loss_sq = 0;
  for (int64_t i = 0; i < d.size(); ++i) {
    const int label = d.labels[i];
    if (label < 0 || label >= probs.size(1)) continue;
    int64_t best = 0;
    for (int64_t k = 1; k < probs.size(1); ++k)
      if (p[i][k] > p[i][best]) best = k;
    correct += best == label;
    const double row_loss = -std::log(std::clamp(p[i][label], 1e-15, 1.0 - 1e-15));
    loss += row_loss;
    loss_sq += row_loss * row_loss;
    ++r.n;
  }
  if (r.n > 0) {
    r.accuracy = correct / static_cast<double>(r.n);
    r.log_loss = loss / static_cast<double>(r.n);
    if (r.n > 1) {
      const double var = (loss_sq - static_cast<double>(r.n) * r.log_loss * r.log_loss) / static_cast<double>(r.n - 1);
      r.log_loss_se = std::sqrt(std::max(0.0, var) / static_cast<double>(r.n));
    }
  }
  return r;
}

torch::Tensor unswap(const torch::Tensor& swapped_probs) {
  auto back = swapped_probs.clone();
  back.select(1, 0).copy_(swapped_probs.select(1, 1));
  back.select(1, 1).copy_(swapped_probs.select(1, 0));
  return back;
}

SwapReport swap_report(const torch::Tensor& probs, const torch::Tensor& unswapped_probs, const TokenizedData& d) {
  SwapReport r;
  const auto a = probs.argmax(1), b = unswapped_probs.argmax(1);
  const auto pa = a.accessor<int64_t, 1>(), pb = b.accessor<int64_t, 1>();
  int64_t same = 0, right[3] = {0, 0, 0}, count[3] = {0, 0, 0};
  for (int64_t i = 0; i < d.size(); ++i) {
    same += pa[i] == pb[i];
    const int label = d.labels[i];
    if (label < 0 || label > 2) continue;
    ++count[label];
    right[label] += pa[i] == label;
  }
  const auto share = [](int64_t k, int64_t n) { return n > 0 ? static_cast<double>(k) / static_cast<double>(n) : 0.0; };
  r.n = d.size();
  r.consistency = share(same, r.n);
  r.n_a = count[0], r.n_b = count[1], r.n_tie = count[2];
  r.accuracy_a_won = share(right[0], count[0]);
  r.accuracy_b_won = share(right[1], count[1]);
  r.accuracy_tie = share(right[2], count[2]);
  return r;
}

std::string describe_eval(const EvalResult& r) {
  auto s = fmt::format("accuracy {:.4f} ± {:.4f}, log loss {:.4f} ± {:.4f} (n {}; 95 % intervals from the rows)",
                       r.accuracy, 1.96 * r.accuracy_se(), r.log_loss, 1.96 * r.log_loss_se, r.n);
  if (std::isfinite(r.mean_margin)) s += fmt::format("; mean reward margin {:.4f}", r.mean_margin);
  return s;
}

EvalResult evaluate(GemmaClassifierImpl& model, const TokenizedData& d, int64_t rows_per_batch,
                    const torch::Device& device, torch::Tensor* probs) {
  if (d.has_responses()) {
    const auto rewards = reward_scores(model, d, rows_per_batch, device);
    const auto p = torch::softmax(rewards, -1);
    if (probs) *probs = p;
    auto r = score(p, d);
    r.mean_margin = mean_margin(rewards, d);
    return r;
  }
  auto p = class_probabilities(model, d, rows_per_batch, device);
  if (probs) *probs = p;
  return score(p, d);
}

std::vector<double> label_probabilities(const torch::Tensor& probs, const TokenizedData& d) {
  const auto p = probs.accessor<double, 2>();  // class_probabilities' [n, L] float64 on the CPU
  std::vector<double> out;
  for (int64_t i = 0; i < d.size(); ++i) {
    const int label = d.labels[i];
    if (label >= 0 && label < probs.size(1)) out.push_back(p[i][label]);
  }
  return out;
}

}  // namespace arena
