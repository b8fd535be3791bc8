#include "launch/batches.h"

#include <torch/torch.h>

#include <algorithm>

#include "common/error.h"
#include "data/shard.h"
#include "data/split.h"

namespace arena {

BatchList plan_epoch(const TokenizedData& train, const TrainConfig& c, int rank, int world, int64_t epoch) {
  const int64_t n = train.size();
  check(n > 0, "train split is empty: nothing to train on (data.path {})", c.data_path);
  const auto seed = static_cast<uint64_t>(c.seed);
  const int64_t per_row = c.swap == "both" ? 2 : 1;  // rows each planned pair becomes
  const int64_t rows = std::max<int64_t>(1, c.batch_rows / per_row);
  if (c.batching == "rows") {
    const auto shard = rank_shard(epoch_order(n, seed, epoch), rank, world);
    BatchList out;
    for (size_t start = 0; start < shard.size(); start += static_cast<size_t>(rows))
      out.emplace_back(shard.begin() + start,
                       shard.begin() + std::min(shard.size(), start + static_cast<size_t>(rows)));
    return out;
  }
  std::vector<int64_t> lengths(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) lengths[i] = train.offsets[i + 1] - train.offsets[i];
  BatchOptions o;
  o.max_tokens = c.batch_tokens / per_row;
  o.max_rows = rows;
  return epoch_batches(lengths, rank, world, o, seed, epoch);
}

std::vector<int64_t> swap_rows(const std::vector<int64_t>& planned, const TokenizedData& train, const TrainConfig& c,
                               int64_t epoch) {
  if (c.swap == "none") return planned;
  const int64_t n = train.size();
  std::vector<int64_t> out;
  out.reserve(planned.size() * 2);
  const uint64_t seed = static_cast<uint64_t>(c.seed) * 1000003ULL + static_cast<uint64_t>(epoch) + 0x5A5A;
  for (const int64_t i : planned) {
    if (c.swap == "both") {
      out.push_back(i);
      out.push_back(n + i);
    } else {
      out.push_back(id_uniform(train.row_ids[static_cast<size_t>(i)], seed) < 0.5 ? n + i : i);
    }
  }
  return out;
}

Batch collate(const TokenizedData& d, const std::vector<int64_t>& rows, const torch::Device& device) {
  Batch b;
  b.rows = static_cast<int64_t>(rows.size());
  int64_t longest = 1;
  for (const int64_t r : rows) longest = std::max(longest, d.offsets[r + 1] - d.offsets[r]);
  auto ids = torch::zeros({b.rows, longest}, torch::kInt64);
  auto mask = torch::zeros({b.rows, longest}, torch::kInt64);
  auto labels = torch::empty({b.rows}, torch::kInt64);
  auto* pid = ids.data_ptr<int64_t>();
  auto* pmask = mask.data_ptr<int64_t>();
  auto* plabel = labels.data_ptr<int64_t>();
  for (int64_t i = 0; i < b.rows; ++i) {
    const int64_t r = rows[i], begin = d.offsets[r], len = d.offsets[r + 1] - begin;
    for (int64_t t = 0; t < len; ++t) {
      pid[i * longest + t] = d.ids[begin + t];
      pmask[i * longest + t] = 1;
    }
    plabel[i] = d.labels[r];
    b.tokens += len;
  }
  b.ids = ids.to(device);
  b.mask = mask.to(device);
  b.labels = labels.to(device);
  if (d.target_width > 0) {
    auto targets = torch::empty({b.rows, d.target_width}, torch::kFloat32);
    auto* pt = targets.data_ptr<float>();
    for (int64_t i = 0; i < b.rows; ++i)
      std::copy_n(d.targets.begin() + rows[i] * d.target_width, d.target_width, pt + i * d.target_width);
    b.targets = targets.to(device);
  }
  return b;
}

}  // namespace arena
