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
#pragma once

#include <torch/types.h>

#include "launch/batches.h"
#include "launch/train_config.h"

namespace arena {

// The distill loss above: logits [n, L], labels [n] int64, teacher [n, L] probabilities.
torch::Tensor distillation_loss(const torch::Tensor& logits, const torch::Tensor& labels, const torch::Tensor& teacher,
                                double temperature, double hard_weight);

// The loss of train.objective on one micro-batch (the batch carries soft targets for distill).
torch::Tensor objective_loss(const TrainConfig& c, const torch::Tensor& logits, const Batch& b);

}  // namespace arena
