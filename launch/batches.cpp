#include "launch/batches.h"

#include <torch/torch.h>

#include <algorithm>

#include "common/error.h"
#include "data/shard.h"
#include "data/split.h"

namespace arena {

BatchList plan_epoch(const TokenizedData& train, const TrainConfig& c, int rank, int world, int64_t epoch,
                     const std::vector<int64_t>& skip) {
  const int64_t n = train.size();
  check(n > 0, "train split is empty: nothing to train on (data.path {})", c.data_path);
  const auto seed = static_cast<uint64_t>(c.seed);
  const int64_t per_row = c.swap == "both" ? 2 : 1;  // rows each planned pair becomes
  const int64_t rows = std::max<int64_t>(1, c.batch_rows / per_row);
  auto order = epoch_order(n, seed, epoch);
  if (!skip.empty()) {
    std::vector<char> done(static_cast<size_t>(n), 0);
    for (const int64_t i : skip) {
      check(i >= 0 && i < n, "row {} of an elastic resume's trained set is outside the train split of {} rows", i, n);
      done[static_cast<size_t>(i)] = 1;
    }
    order.erase(std::remove_if(order.begin(), order.end(), [&](int64_t i) { return done[static_cast<size_t>(i)]; }),
                order.end());
  }
  if (c.batching == "rows") {
    const auto shard = rank_shard(order, rank, world);
    BatchList out;
    for (size_t start = 0; start < shard.size(); start += static_cast<size_t>(rows))
      out.emplace_back(shard.begin() + start,
                       shard.begin() + std::min(shard.size(), start + static_cast<size_t>(rows)));
    return out;
  }
  std::vector<int64_t> lengths(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) lengths[i] = train.offsets[i + 1] - train.offsets[i];
  if (train.has_responses())  // a reward pair is two sequences padded to the longer: its padded cost
    for (int64_t i = 0; i < n; ++i)
      lengths[i] = 2 * std::max(lengths[i], train.offsets_b[i + 1] - train.offsets_b[i]);
  BatchOptions o;
  o.max_tokens = c.batch_tokens / per_row;
  o.max_rows = rows;
  return epoch_batches(lengths, order, rank, world, o, seed, epoch);
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
  // The sequences of the batch: one per row, or for reward data every row's A sequence then every
  // row's B sequence (2 per row).
  struct Seq {
    const int32_t* ids;
    int64_t len;
  };
  std::vector<Seq> seqs;
  for (const int64_t r : rows) seqs.push_back({d.ids.data() + d.offsets[r], d.offsets[r + 1] - d.offsets[r]});
  if (d.has_responses())
    for (const int64_t r : rows) seqs.push_back({d.ids_b.data() + d.offsets_b[r], d.offsets_b[r + 1] - d.offsets_b[r]});
  const auto n = static_cast<int64_t>(seqs.size());
  int64_t longest = 1;
  for (const auto& q : seqs) longest = std::max(longest, q.len);
  b.padded_tokens = n * longest;
  auto ids = torch::zeros({n, longest}, torch::kInt64);
  auto mask = torch::zeros({n, longest}, torch::kInt64);
  auto labels = torch::empty({b.rows}, torch::kInt64);
  auto* pid = ids.data_ptr<int64_t>();
  auto* pmask = mask.data_ptr<int64_t>();
  auto* plabel = labels.data_ptr<int64_t>();
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t t = 0; t < seqs[i].len; ++t) {
      pid[i * longest + t] = seqs[i].ids[t];
      pmask[i * longest + t] = 1;
    }
    b.tokens += seqs[i].len;
  }
  for (int64_t i = 0; i < b.rows; ++i) plabel[i] = d.labels[rows[i]];
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
  if (d.has_responses()) {
    auto margins = torch::empty({b.rows}, torch::kFloat32);
    for (int64_t i = 0; i < b.rows; ++i) margins[i] = d.margins[rows[i]];
    b.margins = margins.to(device);
  }
  return b;
}

}  // namespace arena
