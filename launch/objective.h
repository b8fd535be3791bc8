// The loss a training step minimizes, chosen by train.objective. Every loss is a mean over the
// micro-batch's rows; the trainer multiplies it by the row count and divides the all-reduced
// gradients by the global row count, so N ranks equal one rank for every objective.
//   classify  cross-entropy of the logits against the hard labels (model/gemma/classifier.h)
//   distill   knowledge distillation from teacher probabilities q (data/teacher.h), per row:
//               q_T  = softmax(log q / T)                  the teacher softened by temperature T
//               p_T  = softmax(z / T)                      the student softened the same way
//               KL   = sum_c q_T,c (log q_T,c - log p_T,c) (0 log 0 = 0)
//               loss = h * CE(z, y) + (1 - h) * T^2 * KL   h = distill.hard_weight
//             T^2 keeps the soft term's gradient, (1 - h) * T * (p_T - q_T), on the scale of the
//             hard term's as T changes (Hinton, Vinyals and Dean, 2015). At T = 1 and h = 0 the loss
//             is the cross-entropy against q minus q's entropy: the same gradients.
//   reward    a Bradley-Terry reward model (model.num_labels = 1), as TRL's RewardTrainer: each pair's
//             two sequences are scored, r_c for the preferred answer, r_r for the other, and
//               loss = -log sigmoid(r_c - r_r - m) + c * (r_c + r_r)^2
//             with m the row's margin (0 when the data has none) and c reward.center_coefficient
//             (0: off; TRL's center_rewards_coefficient, 0.01 recommended there). "Correct": r_c > r_r.
#pragma once

#include <torch/types.h>

#include "launch/batches.h"
#include "launch/train_config.h"

namespace arena {

// The distill loss above: logits [n, L], labels [n] int64, teacher [n, L] probabilities.
torch::Tensor distillation_loss(const torch::Tensor& logits, const torch::Tensor& labels, const torch::Tensor& teacher,
                                double temperature, double hard_weight);

// The reward loss above on per-pair rewards [n] of the preferred and the other answer.
torch::Tensor reward_loss(const torch::Tensor& chosen, const torch::Tensor& rejected, const torch::Tensor& margin,
                          double center_coefficient);

// A micro-batch's loss under train.objective (mean over its rows, in the graph) and how many rows
// the model got right (argmax = label; for reward, r_c > r_r), a float64 scalar without a graph.
struct StepLoss {
  torch::Tensor loss;
  torch::Tensor correct;
};
StepLoss objective_loss(const TrainConfig& c, const torch::Tensor& logits, const Batch& b);

}  // namespace arena
