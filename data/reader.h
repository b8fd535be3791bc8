// Reading preference pairs from the files users have:
//   lmsys     Kaggle LMSYS train.csv/test.csv: prompt/response_a/response_b are JSON lists of turns
//             (a turn may be null), labels one-hot in winner_model_a/winner_model_b/winner_tie
//   wsdm      WSDM-style fields (id, prompt, response_a, response_b, winner = model_a|model_b|tie),
//             as JSONL (e.g. ../shared/data/autoj-pairwise.jsonl) or CSV with that header
//   pairwise  reward-model JSONL {"chosen", "rejected"}: HH-RLHF dialogue strings or TRL message
//             lists (optionally with "prompt"); A/B order is a seeded swap, the label follows it
//   parquet   WSDM train.parquet/test.parquet (id, prompt, response_a, response_b, winner), read
//             with Apache Arrow's C++ Parquet reader
// A row that cannot be used is skipped and counted with file, line, id and reason; a file that
// cannot be read at all (unopenable, unterminated quote, missing columns) is an arena::Error.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "data/pair.h"

namespace arena {

enum class DataFormat { kAuto, kLmsys, kWsdm, kPairwise, kParquet };
enum class LabelMode {
  kBinary,      // A/B; ties are skipped (reason "tie dropped (binary labels)")
  kThreeClass,  // A/B/tie
};

DataFormat parse_data_format(const std::string& name);  // auto|lmsys|wsdm|pairwise|parquet
const char* data_format_name(DataFormat f);
LabelMode parse_label_mode(const std::string& name);     // binary|3class

struct ReadOptions {
  DataFormat format = DataFormat::kAuto;
  LabelMode labels = LabelMode::kThreeClass;
  uint64_t seed = 0;           // pairwise position swap
  bool require_labels = true;  // false for test files: rows keep kLabelNone
};

struct Dataset {
  std::vector<Pair> pairs;
  ReadReport report;
  DataFormat format = DataFormat::kAuto;  // the one detected or forced
};

// What reading a file tells besides its pairs.
struct ReadInfo {
  ReadReport report;
  DataFormat format = DataFormat::kAuto;  // the one detected or forced
};

using PairSink = std::function<void(Pair&&)>;

// Detects the format of `path` from its extension and first record.
DataFormat detect_data_format(const std::string& path);

// Streams `path`: calls `on_pair` with every usable pair, in file order, while holding one record
// (CSV record by record, JSONL line by line, Parquet a record batch of 1,024 rows), so memory does
// not grow with the file. Rows and skips are exactly those of read_pairs.
ReadInfo for_each_pair(const std::string& path, const ReadOptions& options, const PairSink& on_pair);

// Every usable pair in memory (for_each_pair collecting them).
Dataset read_pairs(const std::string& path, const ReadOptions& options);

}  // namespace arena
