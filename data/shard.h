// Per-epoch shuffle, rank shards and length-grouped batches. Every rank computes the plan of
// every rank from the same inputs (no communication), so all ranks agree on the step count: a
// collective on step k is entered by all ranks or by none.
#pragma once

#include <cstdint>
#include <vector>

namespace arena {

// A permutation of [0, n) for (seed, epoch): the same on every rank.
std::vector<int64_t> epoch_order(int64_t n, uint64_t seed, int64_t epoch);

// Rank `rank` of `world` takes positions rank, rank + world, ... of `order`. When n is not a
// multiple of world, the first (world - n % world) ranks' last slot repeats order's first items so
// every rank gets ceil(n / world) items: the shards cover every item, and overlap only in those
// (at most world - 1) padding items.
std::vector<int64_t> rank_shard(const std::vector<int64_t>& order, int rank, int world);

struct BatchOptions {
  int64_t max_tokens = 8192;  // rows x longest row of a batch (dynamic padding) stays under this
  int64_t max_rows = 64;
  int64_t group = 50;         // sort by length inside windows of group x max_rows items
};

// Batches of item indices from one rank's shard: length-grouped (sorted inside windows), capped by
// the token budget, then shuffled (seeded) so lengths do not march through the epoch.
std::vector<std::vector<int64_t>> length_grouped_batches(const std::vector<int64_t>& shard,
                                                         const std::vector<int64_t>& lengths, const BatchOptions& o,
                                                         uint64_t seed);

// The whole epoch for `rank`: its batches, cut to the smallest batch count over all ranks so every
// rank runs the same number of steps. `dropped` (optional) gets the items cut from this rank.
std::vector<std::vector<int64_t>> epoch_batches(const std::vector<int64_t>& lengths, int rank, int world,
                                                const BatchOptions& o, uint64_t seed, int64_t epoch,
                                                int64_t* dropped = nullptr);

// The same over `order`, a subsequence of epoch_order(lengths.size(), seed, epoch): what is left of
// an epoch when a run resumes on another rank count (launch/elastic.h). The full order gives the
// plan above.
std::vector<std::vector<int64_t>> epoch_batches(const std::vector<int64_t>& lengths, const std::vector<int64_t>& order,
                                                int rank, int world, const BatchOptions& o, uint64_t seed,
                                                int64_t epoch, int64_t* dropped = nullptr);

}  // namespace arena
