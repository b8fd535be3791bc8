// Elastic resume: a checkpoint saved by N ranks continues on M ranks from the same place in its
// epoch (docs/reliability.md, "Elastic resume").
//   data      the rows the N ranks trained in the checkpoint's epoch (their plans' first `cursor`
//             micro-batches, plus rows trained before an earlier elastic resume) are skipped; the
//             rest of the epoch's seeded order is planned for M ranks with the same batching
//             (launch/batches.h, plan_epoch's `skip`); later epochs are planned for M ranks
//   batch     batch.rows (and batch.tokens) scaled by N/M, so an optimizer step trains the same
//             number of rows; N x batch.rows must be a multiple of M (of 2M under train.swap = both)
//   schedule  the checkpoint's total and warmup steps: the learning rate of every step is kept
//   RNG       the per-rank dropout streams cannot carry over; each rank reseeds from
//             (train.seed, step, rank)
// A resume on the same rank count changes nothing here and stays bit-exact.
#pragma once

#include <cstdint>

#include "data/token_cache.h"
#include "launch/checkpoint.h"
#include "launch/train_config.h"

namespace arena {

struct ElasticStart {
  TrainConfig config;        // the config to train with: the given one, batch settings scaled on N != M
  bool keep_schedule = false;  // take total and warmup steps from the checkpoint (N != M now or before)
  int64_t total_steps = 0, warmup_steps = 0;
};

// Decides before training starts, from the checkpoint of c.resume (nothing when c.resume is empty).
// Throws naming the checkpoint when N x batch.rows does not split over `world` ranks, or when the
// command line asks for batch settings or a step total that contradict the checkpoint's.
ElasticStart elastic_start(const TrainConfig& c, int world);

// Where `world` ranks continue the checkpoint's epoch when it was saved by another rank count:
// the rows trained so far go to `consumed` and the cursor restarts at 0 of the plan of the rest;
// when the saving ranks had finished the epoch's plan, the next epoch from its start.
TrainState continue_elastic(const Checkpoint& ck, const TokenizedData& train, int world, bool verbose);

// The dropout stream of `rank` after an elastic resume at optimizer step `step`: torch::manual_seed
// with a mix of (seed, step, rank), distinct from a fresh run's seeds and the same on every rerun.
void reseed_dropout(int64_t seed, int64_t step, int rank);

}  // namespace arena
