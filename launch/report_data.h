// The data side of `arena report`: the run's data file read and tokenized again as the run did
// (its format, label mode, tokenizer, max_len, template), for what the run does not store:
// every row's length before truncation, the labels, the answers' lengths and, where the file has
// them (LMSYS, WSDM), the models' names. Rows are matched to the run's split.json by row id.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "launch/report_run.h"

namespace arena {

struct DataRow {
  std::string id;
  int label = -1;
  int split = -1;  // 0 train, 1 val, 2 test (from split.json); -1 not in the run's split or no split.json
  int64_t tokens = 0;                  // before truncation, template included
  int64_t tokens_a = 0, tokens_b = 0;  // each answer (all turns) before truncation
  std::string model_a, model_b;        // "" when the file has no names
};

struct DataView {
  std::string path;     // the file read
  int64_t max_len = 0;  // the token budget (data.max_len)
  std::string labels;   // binary | 3class: the run's label mode
  std::vector<DataRow> rows;
  bool matches_run = false;  // every split.json row id is in the file (the run's data)
  std::vector<std::string> notes;  // e.g. the file does not match the run
};

// Reads `path` (the run's data.path when empty) as `run` did. Throws arena::Error when there is
// no config to say how (and no path), or when the file or tokenizer cannot be read.
DataView read_run_data(const RunRecord& run, const std::string& path);

}  // namespace arena
