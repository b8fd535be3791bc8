#include "launch/objective.h"

#include <torch/torch.h>

#include "common/error.h"
#include "model/gemma/classifier.h"

namespace arena {

torch::Tensor distillation_loss(const torch::Tensor& logits, const torch::Tensor& labels, const torch::Tensor& teacher,
                                double temperature, double hard_weight) {
  check(teacher.sizes() == logits.sizes(), "distillation: teacher probabilities [{}] for logits [{}]",
        fmt::join(teacher.sizes(), ","), fmt::join(logits.sizes(), ","));
  namespace F = torch::nn::functional;
  const auto z = logits.to(torch::kFloat32);
  const auto q = teacher.to(torch::kFloat32);
  // log q_T: log q / T renormalized; a zero probability stays zero (log 0 = -inf).
  const auto log_q_t = F::log_softmax(torch::log(q) / temperature, F::LogSoftmaxFuncOptions(-1));
  const auto q_t = log_q_t.exp();
  const auto log_p_t = F::log_softmax(z / temperature, F::LogSoftmaxFuncOptions(-1));
  const auto kl = torch::where(q_t > 0, q_t * (log_q_t - log_p_t), torch::zeros_like(q_t)).sum(-1).mean();
  auto loss = (1.0 - hard_weight) * temperature * temperature * kl;
  if (hard_weight > 0) loss = loss + hard_weight * classification_loss(z, labels);
  return loss;
}

torch::Tensor reward_loss(const torch::Tensor& chosen, const torch::Tensor& rejected, const torch::Tensor& margin,
                          double center_coefficient) {
  namespace F = torch::nn::functional;
  auto loss = -F::logsigmoid(chosen - rejected - margin).mean();
  if (center_coefficient > 0) loss = loss + center_coefficient * (chosen + rejected).pow(2).mean();
  return loss;
}

StepLoss objective_loss(const TrainConfig& c, const torch::Tensor& logits, const Batch& b) {
  if (c.objective == "reward") {
    check(logits.size(0) == 2 * b.rows && logits.size(-1) == 1,
          "train.objective = reward: expected [{}, 1] rewards (two sequences per pair), got [{}]", 2 * b.rows,
          fmt::join(logits.sizes(), ","));
    const auto r = logits.to(torch::kFloat32).reshape({2, b.rows});
    const auto a_won = b.labels.eq(0);
    const auto chosen = torch::where(a_won, r[0], r[1]);
    const auto rejected = torch::where(a_won, r[1], r[0]);
    return {reward_loss(chosen, rejected, b.margins, c.reward_center_coefficient),
            chosen.detach().gt(rejected.detach()).sum().to(torch::kFloat64)};
  }
  const auto correct = logits.detach().argmax(-1).eq(b.labels).sum().to(torch::kFloat64);
  if (c.objective == "distill") {
    check(b.targets.defined(), "train.objective = distill: the batch carries no teacher probabilities");
    return {distillation_loss(logits, b.labels, b.targets, c.distill_temperature, c.distill_hard_weight), correct};
  }
  return {classification_loss(logits, b.labels), correct};
}

}  // namespace arena
