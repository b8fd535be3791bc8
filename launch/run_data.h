// The data of a run: the file read once, tokenized (or taken from the HDF5 token cache), and cut
// into the 70/10/20 train/validation/test splits by seeded hash of the row id, so every rank and
// every world size sees the same splits.
#pragma once

#include <string>

#include "data/reader.h"
#include "data/token_cache.h"
#include "launch/train_config.h"

namespace arena {

struct RunData {
  TokenizedData train, val, test;
  // The same rows with A and B exchanged (labels swapped), when asked for: train.swap, --swap-average.
  TokenizedData train_swapped, val_swapped, test_swapped;
  ReadReport report;  // rows read and skipped (with reasons)
  DataFormat format = DataFormat::kAuto;
};

// `cache_path` empty: no cache. Only `write_cache` ranks write it (rank 0).
RunData load_run_data(const TrainConfig& c, const std::string& cache_path, bool write_cache, bool with_swapped = false);

// `a`'s rows followed by `b`'s.
TokenizedData concat(const TokenizedData& a, const TokenizedData& b);

// Rows of `d` at `rows`, in that order.
TokenizedData subset(const TokenizedData& d, const std::vector<int64_t>& rows);

// One line per skip reason, for the run log.
std::string describe_report(const std::string& path, const ReadReport& r, size_t used);

}  // namespace arena
