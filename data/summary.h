// What `arena data` reports about a file before anyone trains on it.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <string>

#include "data/encode.h"
#include "data/reader.h"
#include "data/split.h"

namespace arena {

struct DataSummary {
  std::map<std::string, int64_t> labels;  // model_a / model_b / tie / none -> count
  std::map<std::string, int64_t> split;   // train / val / test -> count
  int64_t p50 = 0, p90 = 0, p99 = 0, max = 0;  // template + text tokens before truncation
  double truncated_fraction = 0;          // share of pairs longer than max_len
  int64_t tokens = 0;                     // total tokens before truncation
  int64_t estimated = 0;                  // pairs with a turn over 64 KiB: their lengths are estimates
};

// Encodes every pair (using `threads` threads) and summarizes. `progress(done, total)` is called
// from the calling thread about every 1000 pairs.
DataSummary summarize(const Dataset& data, const PairEncoder& encoder, uint64_t split_seed, int threads = 1,
                      const std::function<void(int64_t, int64_t)>& progress = {});

}  // namespace arena
