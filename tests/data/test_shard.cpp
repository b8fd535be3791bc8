// Epoch order, rank shards and batches for 1, 2, 3 and 8 ranks, without MPI: every rank's plan is
// computed here exactly as each rank would compute it.
#include <gtest/gtest.h>

#include <map>
#include <random>
#include <set>

#include "data/shard.h"

namespace arena {
namespace {

std::vector<int64_t> random_lengths(int64_t n, uint64_t seed) {
  std::mt19937_64 rng(seed);
  std::vector<int64_t> out(static_cast<size_t>(n));
  for (auto& l : out) l = 30 + static_cast<int64_t>(rng() % 1900);
  return out;
}

TEST(Shard, EpochOrderIsASeededPermutation) {
  const auto a = epoch_order(1000, 7, 0);
  std::set<int64_t> s(a.begin(), a.end());
  EXPECT_EQ(s.size(), 1000u);
  EXPECT_EQ(*s.begin(), 0);
  EXPECT_EQ(*s.rbegin(), 999);
  EXPECT_EQ(epoch_order(1000, 7, 0), a);
  EXPECT_NE(epoch_order(1000, 7, 1), a);
  EXPECT_NE(epoch_order(1000, 8, 0), a);
}

class ShardWorld : public ::testing::TestWithParam<int> {};

TEST_P(ShardWorld, ShardsCoverEveryItemWithEqualSizesAndOverlapOnlyInPadding) {
  const int world = GetParam();
  for (const int64_t n : {0, 1, 7, 1000, 1003}) {
    const auto order = epoch_order(n, 3, 0);
    std::map<int64_t, int> seen;
    size_t size = 0;
    for (int r = 0; r < world; ++r) {
      const auto s = rank_shard(order, r, world);
      if (r == 0) size = s.size();
      EXPECT_EQ(s.size(), size) << "rank " << r << " n " << n;
      for (auto i : s) ++seen[i];
    }
    EXPECT_EQ(static_cast<int64_t>(seen.size()), n);  // covering
    int64_t extra = 0;
    for (const auto& [i, c] : seen) extra += c - 1;
    EXPECT_EQ(extra, n == 0 ? 0 : static_cast<int64_t>(size) * world - n);  // only the padding repeats
    EXPECT_LT(extra, world);
  }
}

TEST_P(ShardWorld, EveryRankRunsTheSameNumberOfStepsWithinTheTokenBudget) {
  const int world = GetParam();
  const auto lengths = random_lengths(3001, 11);
  BatchOptions o;
  o.max_tokens = 8192;
  o.max_rows = 16;
  for (int64_t epoch = 0; epoch < 3; ++epoch) {
    size_t steps = 0;
    std::set<int64_t> used;
    int64_t dropped_total = 0, used_total = 0;
    for (int r = 0; r < world; ++r) {
      int64_t dropped = 0;
      const auto batches = epoch_batches(lengths, r, world, o, 5, epoch, &dropped);
      if (r == 0) steps = batches.size();
      EXPECT_EQ(batches.size(), steps) << "rank " << r << " epoch " << epoch;
      dropped_total += dropped;
      for (const auto& b : batches) {
        int64_t longest = 0;
        for (auto i : b) longest = std::max(longest, lengths[static_cast<size_t>(i)]);
        EXPECT_LE(static_cast<int64_t>(b.size()) * longest, o.max_tokens);
        EXPECT_LE(static_cast<int64_t>(b.size()), o.max_rows);
        used.insert(b.begin(), b.end());
        used_total += static_cast<int64_t>(b.size());
      }
    }
    EXPECT_GT(steps, 0u);
    // What is not used was dropped to equalize steps, and is reported.
    EXPECT_EQ(used_total + dropped_total, static_cast<int64_t>((3001 + world - 1) / world) * world);
    EXPECT_GE(static_cast<int64_t>(used.size()), 3001 - dropped_total);
  }
}

INSTANTIATE_TEST_SUITE_P(Worlds, ShardWorld, ::testing::Values(1, 2, 3, 8));

TEST(Shard, BatchesAreLengthGrouped) {
  const auto lengths = random_lengths(4000, 2);
  std::vector<int64_t> shard(4000);
  for (int64_t i = 0; i < 4000; ++i) shard[static_cast<size_t>(i)] = i;
  BatchOptions o;
  const auto batches = length_grouped_batches(shard, lengths, o, 1);
  int64_t padded = 0, real = 0;
  for (const auto& b : batches) {
    int64_t longest = 0;
    for (auto i : b) longest = std::max(longest, lengths[static_cast<size_t>(i)]), real += lengths[static_cast<size_t>(i)];
    padded += longest * static_cast<int64_t>(b.size());
  }
  // Random order would waste about half the padded tokens on lengths uniform in [30, 1930];
  // grouping keeps the waste small.
  EXPECT_LT(static_cast<double>(padded - real) / static_cast<double>(padded), 0.05);
}

}  // namespace
}  // namespace arena
