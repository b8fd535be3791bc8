// Training objectives (launch/objective.h): the distillation loss and its gradient against the
// written formula, evaluated independently in double precision on small tensors.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>
#include <vector>

#include "common/error.h"
#include "launch/objective.h"
#include "model/gemma/classifier.h"

namespace arena {
namespace {

using Rows = std::vector<std::vector<double>>;

std::vector<double> softmax(const std::vector<double>& x) {
  double m = x[0], s = 0;
  for (double v : x) m = std::max(m, v);
  std::vector<double> out;
  for (double v : x) s += std::exp(v - m);
  for (double v : x) out.push_back(std::exp(v - m) / s);
  return out;
}

// loss = h * CE(z, y) + (1 - h) * T^2 * KL(q_T || p_T), mean over rows, and its gradient.
double formula(const Rows& z, const std::vector<int64_t>& y, const Rows& q, double T, double h, Rows& grad) {
  double total = 0;
  const double n = static_cast<double>(z.size());
  grad.assign(z.size(), std::vector<double>(z[0].size(), 0));
  for (size_t i = 0; i < z.size(); ++i) {
    std::vector<double> zt, lq;
    for (double v : z[i]) zt.push_back(v / T);
    for (double v : q[i]) lq.push_back(v > 0 ? std::log(v) / T : -INFINITY);
    const auto p = softmax(z[i]), pt = softmax(zt);
    std::vector<double> qt(q[i].size());
    double norm = 0;
    for (size_t c = 0; c < q[i].size(); ++c) norm += q[i][c] > 0 ? std::exp(lq[c]) : 0;
    for (size_t c = 0; c < q[i].size(); ++c) qt[c] = q[i][c] > 0 ? std::exp(lq[c]) / norm : 0;
    double kl = 0;
    for (size_t c = 0; c < qt.size(); ++c)
      if (qt[c] > 0) kl += qt[c] * (std::log(qt[c]) - std::log(pt[c]));
    total += h * -std::log(p[y[i]]) + (1 - h) * T * T * kl;
    for (size_t c = 0; c < qt.size(); ++c)
      grad[i][c] = (h * (p[c] - (static_cast<int64_t>(c) == y[i] ? 1.0 : 0.0)) + (1 - h) * T * (pt[c] - qt[c])) / n;
  }
  return total / n;
}

torch::Tensor tensor(const Rows& r) {
  std::vector<float> flat;
  for (const auto& row : r) flat.insert(flat.end(), row.begin(), row.end());
  return torch::tensor(flat).view({static_cast<int64_t>(r.size()), static_cast<int64_t>(r[0].size())});
}

void expect_matches(const Rows& z, const std::vector<int64_t>& y, const Rows& q, double T, double h) {
  Rows want_grad;
  const double want = formula(z, y, q, T, h, want_grad);
  auto logits = tensor(z).requires_grad_(true);
  const auto loss = distillation_loss(logits, torch::tensor(y), tensor(q), T, h);
  loss.backward();
  EXPECT_NEAR(loss.item<double>(), want, 1e-5 * std::max(1.0, std::fabs(want))) << "T " << T << " h " << h;
  const auto g = logits.grad();
  for (size_t i = 0; i < z.size(); ++i)
    for (size_t c = 0; c < z[i].size(); ++c)
      EXPECT_NEAR(g[i][c].item<double>(), want_grad[i][c], 1e-6) << "row " << i << " class " << c;
}

const Rows kLogits{{1.5, -0.3, 0.2}, {-2.0, 0.7, 0.1}, {0.0, 0.0, 3.0}, {4.0, -4.0, 0.5}};
const std::vector<int64_t> kLabels{0, 1, 2, 1};
const Rows kTeacher{{0.7, 0.2, 0.1}, {0.05, 0.9, 0.05}, {0.3, 0.3, 0.4}, {0.5, 0.5, 0.0}};  // a zero included

TEST(Distillation, LossAndGradientEqualTheFormula) {
  for (const double T : {1.0, 2.0, 0.5})
    for (const double h : {0.0, 0.3, 1.0}) expect_matches(kLogits, kLabels, kTeacher, T, h);
}

TEST(Distillation, AtTemperatureOneItIsCrossEntropyAgainstTheTeacherLessItsEntropy) {
  const auto z = tensor(kLogits), q = tensor(kTeacher);
  const auto ce_soft = -(q * torch::log_softmax(z, -1)).sum(-1).mean();
  const auto entropy = -torch::where(q > 0, q * torch::log(q), torch::zeros_like(q)).sum(-1).mean();
  EXPECT_NEAR(distillation_loss(z, torch::tensor(kLabels), q, 1.0, 0.0).item<double>(),
              (ce_soft - entropy).item<double>(), 1e-6);
  // A one-hot teacher at h = 0 is the hard cross-entropy.
  const auto onehot = torch::nn::functional::one_hot(torch::tensor(kLabels), 3).to(torch::kFloat32);
  EXPECT_NEAR(distillation_loss(z, torch::tensor(kLabels), onehot, 1.0, 0.0).item<double>(),
              classification_loss(z, torch::tensor(kLabels)).item<double>(), 1e-6);
}

TEST(Distillation, ObjectiveDispatch) {
  TrainConfig c;
  Batch b;
  b.labels = torch::tensor(kLabels);
  const auto z = tensor(kLogits);
  EXPECT_DOUBLE_EQ(objective_loss(c, z, b).loss.item<double>(), classification_loss(z, b.labels).item<double>());
  c.objective = "distill";
  EXPECT_THROW(objective_loss(c, z, b), Error) << "distill without teacher targets in the batch";
  b.targets = tensor(kTeacher);
  c.distill_temperature = 2.0;
  c.distill_hard_weight = 0.25;
  EXPECT_DOUBLE_EQ(objective_loss(c, z, b).loss.item<double>(),
                   distillation_loss(z, b.labels, b.targets, 2.0, 0.25).item<double>());
  EXPECT_EQ(objective_loss(c, z, b).correct.item<double>(), 3) << "argmax = label on rows 0, 1 and 2";
}

// Reward: -log sigmoid(r_c - r_r - m) + c (r_c + r_r)^2, mean over pairs; the batch holds every
// pair's A sequence, then its B sequence, and the label says which one is preferred.
TEST(Reward, LossPicksTheChosenAnswerAndEqualsTheFormula) {
  const std::vector<double> ra{0.5, 1.0, 2.0}, rb{0.25, 0.5, -0.75}, margin{0.0, 0.3, 1.0};
  const std::vector<int64_t> labels{0, 1, 0};  // A, B, A preferred
  const double coef = 0.01;
  double want = 0;
  std::vector<double> grad_a(3), grad_b(3);
  for (size_t i = 0; i < 3; ++i) {
    const bool a = labels[i] == 0;
    const double c = a ? ra[i] : rb[i], r = a ? rb[i] : ra[i];
    const double x = c - r - margin[i], sig = 1 / (1 + std::exp(-x));
    want += (-std::log(sig) + coef * (c + r) * (c + r)) / 3;
    const double dc = (-(1 - sig) + 2 * coef * (c + r)) / 3, dr = ((1 - sig) + 2 * coef * (c + r)) / 3;
    (a ? grad_a : grad_b)[i] = dc;
    (a ? grad_b : grad_a)[i] = dr;
  }
  std::vector<float> flat(ra.begin(), ra.end());
  flat.insert(flat.end(), rb.begin(), rb.end());
  auto logits = torch::tensor(flat).view({6, 1}).requires_grad_(true);
  TrainConfig c;
  c.objective = "reward";
  c.reward_center_coefficient = coef;
  Batch b;
  b.rows = 3;
  b.labels = torch::tensor(labels);
  b.margins = torch::tensor(std::vector<float>(margin.begin(), margin.end()));
  const auto out = objective_loss(c, logits, b);
  out.loss.backward();
  EXPECT_NEAR(out.loss.item<double>(), want, 1e-6);
  EXPECT_EQ(out.correct.item<double>(), 2) << "r_c > r_r for pairs 0 and 2; pair 1 prefers B but scores A higher";
  const auto g = logits.grad().view({2, 3});
  for (int64_t i = 0; i < 3; ++i) {
    EXPECT_NEAR(g[0][i].item<double>(), grad_a[i], 1e-6) << "pair " << i << " A";
    EXPECT_NEAR(g[1][i].item<double>(), grad_b[i], 1e-6) << "pair " << i << " B";
  }
  b.rows = 2;
  EXPECT_THROW(objective_loss(c, logits, b), Error) << "6 rewards for 2 pairs";
}

}  // namespace
}  // namespace arena
