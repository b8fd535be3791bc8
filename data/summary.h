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
  int64_t used = 0;                       // pairs summarized (rows read minus rows skipped)
  ReadInfo read;                          // rows read and skipped, the format (summarize_file)
};

// Encodes every pair (on `threads` threads, each taking batches of kSummaryBatch pairs) and
// summarizes. `progress(done)` is called from the calling thread as batches are handed out and at
// the end.
DataSummary summarize(const Dataset& data, const PairEncoder& encoder, uint64_t split_seed, int threads = 1,
                      const std::function<void(int64_t)>& progress = {});

// The same for a file, streamed (data/reader.h for_each_pair): the calling thread reads batches of
// kSummaryBatch pairs while the threads encode the batches before, at most `threads` batches
// waiting, so memory holds a few batches of texts and a length per pair, whatever the file's size. The numbers equal summarize(read_pairs(path, options), ...)'s.
DataSummary summarize_file(const std::string& path, const ReadOptions& options, const PairEncoder& encoder,
                           uint64_t split_seed, int threads = 1, const std::function<void(int64_t)>& progress = {});
constexpr int64_t kSummaryBatch = 2048;

}  // namespace arena
