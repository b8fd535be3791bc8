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

// This rank's micro-batches of `epoch` (indices into `train`).
BatchList plan_epoch(const TokenizedData& train, const TrainConfig& c, int rank, int world, int64_t epoch);

struct Batch {
  torch::Tensor ids;     // [rows, longest] int64, right-padded with pad id 0
  torch::Tensor mask;    // [rows, longest] int64, 1 real / 0 pad
  torch::Tensor labels;  // [rows] int64
  int64_t rows = 0;
  int64_t tokens = 0;    // real tokens
};

Batch collate(const TokenizedData& d, const std::vector<int64_t>& rows, const torch::Device& device);

}  // namespace arena
