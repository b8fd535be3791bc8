// Micro-batches of the train split for one rank, and their tensors.
//   rows    batch t of rank r holds items t·b … t·b+b−1 of r's shard (positions r, r+W, … of the epoch's
//           seeded order), so W ranks with b rows see exactly the rows of 1 rank with W·b rows
//   tokens  length-grouped batches under a padded-token budget (data/shard.h)
// Every rank plans every epoch identically, so all ranks agree on the number of steps.
#pragma once

#include <torch/types.h>

#include <cstdint>
#include <vector>

#include "data/token_cache.h"
#include "launch/train_config.h"

namespace arena {

using BatchList = std::vector<std::vector<int64_t>>;

// This rank's micro-batches of `epoch` (indices into `train`). Under train.swap = both a batch
// plans half its rows and tokens in pairs: swap_rows() doubles them. `skip` (sorted or not): rows
// already trained in this epoch before a resume on another rank count (launch/elastic.h); the plan
// is then the same batching over the rest of the epoch's order.
BatchList plan_epoch(const TokenizedData& train, const TrainConfig& c, int rank, int world, int64_t epoch,
                     const std::vector<int64_t>& skip = {});

// A/B swap augmentation (train.swap): the rows a planned micro-batch trains on, as indices into
// the train split followed by its A/B-swapped copy (index n + i is row i with A and B exchanged
// and its label swapped; a tie stays a tie):
//   none    the planned rows
//   both    every planned row twice, i then n + i, in the same micro-batch
//   random  n + i for a seeded half of the rows, drawn anew each epoch (seed: train.seed, epoch, id)
std::vector<int64_t> swap_rows(const std::vector<int64_t>& planned, const TokenizedData& train, const TrainConfig& c,
                               int64_t epoch);

struct Batch {
  // [rows, longest] int64, right-padded with pad id 0; for reward data [2·rows, longest]: the rows'
  // prompt + A sequences, then their prompt + B sequences (TokenizedData::has_responses).
  torch::Tensor ids;
  torch::Tensor mask;    // the same shape, 1 real / 0 pad
  torch::Tensor labels;  // [rows] int64
  torch::Tensor margins; // [rows] float32 for reward data (TRL's per-row margin), else undefined
  torch::Tensor targets; // [rows, L] float32 soft targets when the data has them (distill), else undefined
  int64_t rows = 0;      // pairs: what the loss averages over
  int64_t tokens = 0;    // real tokens (both sequences of a reward pair)
  int64_t padded_tokens = 0;  // ids.numel(): what the model computes on, pad included
};

Batch collate(const TokenizedData& d, const std::vector<int64_t>& rows, const torch::Device& device);

}  // namespace arena
