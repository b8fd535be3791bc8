#include "data/shard.h"

#include <algorithm>
#include <numeric>
#include <random>

#include "common/error.h"

namespace arena {
namespace {

std::mt19937_64 rng_for(uint64_t seed, int64_t epoch, uint64_t stream) {
  std::seed_seq seq{static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32), static_cast<uint32_t>(epoch),
                    static_cast<uint32_t>(stream)};
  return std::mt19937_64(seq);
}

// Fisher-Yates with our own index draw: std::shuffle's algorithm is implementation-defined, and
// the order must not change with the standard library.
template <typename T>
void shuffle(std::vector<T>& v, std::mt19937_64& rng) {
  for (size_t i = v.size(); i > 1; --i) std::swap(v[i - 1], v[rng() % i]);
}

}  // namespace

std::vector<int64_t> epoch_order(int64_t n, uint64_t seed, int64_t epoch) {
  std::vector<int64_t> order(static_cast<size_t>(n));
  std::iota(order.begin(), order.end(), 0);
  auto rng = rng_for(seed, epoch, 0);
  shuffle(order, rng);
  return order;
}

std::vector<int64_t> rank_shard(const std::vector<int64_t>& order, int rank, int world) {
  check(world > 0 && rank >= 0 && rank < world, "rank {} out of range for world size {}", rank, world);
  const auto n = static_cast<int64_t>(order.size());
  const int64_t per_rank = (n + world - 1) / world;
  std::vector<int64_t> out;
  out.reserve(static_cast<size_t>(per_rank));
  for (int64_t k = 0; k < per_rank; ++k) {
    const int64_t pos = k * world + rank;
    out.push_back(n == 0 ? 0 : order[static_cast<size_t>(pos % n)]);
  }
  if (n == 0) out.clear();
  return out;
}

std::vector<std::vector<int64_t>> length_grouped_batches(const std::vector<int64_t>& shard,
                                                         const std::vector<int64_t>& lengths, const BatchOptions& o,
                                                         uint64_t seed) {
  check(o.max_rows > 0 && o.max_tokens > 0 && o.group > 0, "batch options must be positive");
  std::vector<std::vector<int64_t>> batches;
  const size_t window = static_cast<size_t>(o.group * o.max_rows);
  for (size_t w = 0; w < shard.size(); w += window) {
    std::vector<int64_t> items(shard.begin() + static_cast<long>(w),
                               shard.begin() + static_cast<long>(std::min(shard.size(), w + window)));
    std::stable_sort(items.begin(), items.end(),
                     [&](int64_t a, int64_t b) { return lengths[static_cast<size_t>(a)] < lengths[static_cast<size_t>(b)]; });
    std::vector<int64_t> batch;
    int64_t longest = 0;
    for (const int64_t i : items) {
      const int64_t len = lengths[static_cast<size_t>(i)];
      const int64_t longer = std::max(longest, len);
      if (!batch.empty() && (static_cast<int64_t>(batch.size() + 1) * longer > o.max_tokens ||
                             static_cast<int64_t>(batch.size()) >= o.max_rows)) {
        batches.push_back(std::move(batch));
        batch.clear();
        longest = 0;
      }
      batch.push_back(i);
      longest = std::max(longest, len);
    }
    if (!batch.empty()) batches.push_back(std::move(batch));
  }
  auto rng = rng_for(seed, 0, 1);
  shuffle(batches, rng);
  return batches;
}

std::vector<std::vector<int64_t>> epoch_batches(const std::vector<int64_t>& lengths, int rank, int world,
                                                const BatchOptions& o, uint64_t seed, int64_t epoch,
                                                int64_t* dropped) {
  return epoch_batches(lengths, epoch_order(static_cast<int64_t>(lengths.size()), seed, epoch), rank, world, o, seed,
                       epoch, dropped);
}

std::vector<std::vector<int64_t>> epoch_batches(const std::vector<int64_t>& lengths, const std::vector<int64_t>& order,
                                                int rank, int world, const BatchOptions& o, uint64_t seed,
                                                int64_t epoch, int64_t* dropped) {
  size_t steps = SIZE_MAX;
  std::vector<std::vector<int64_t>> mine;
  for (int r = 0; r < world; ++r) {
    auto b = length_grouped_batches(rank_shard(order, r, world), lengths, o, seed ^ (static_cast<uint64_t>(epoch) << 20) ^ r);
    steps = std::min(steps, b.size());
    if (r == rank) mine = std::move(b);
  }
  int64_t cut = 0;
  for (size_t k = steps; k < mine.size(); ++k) cut += static_cast<int64_t>(mine[k].size());
  mine.resize(steps);
  if (dropped != nullptr) *dropped = cut;
  return mine;
}

}  // namespace arena
