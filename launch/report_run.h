// What `arena report` reads back from one run directory (`arena train --out RUN`), without torch:
//   config.toml            the resolved config (data.path, data.tokenizer, data.max_len, ...)
//   metrics.jsonl          train / eval / summary / baselines records (launch/trainer.cpp)
//   split.json             the row ids of train / val / test (launch/run_record.h)
//   test_predictions.csv   the model's probabilities on the test split (launch/run_record.h)
// Nothing here throws for a missing or damaged file: each problem becomes one note naming the file
// and the reason ("metrics.jsonl line 41 is cut off: ignored"), and the rest is used, so the
// report draws what it can. Only a RUN_DIR that is not a directory is an arena::Error.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

#include "launch/train_config.h"

namespace arena {

// One optimizer step's "train" record.
struct TrainPoint {
  int64_t step = 0;
  double loss = 0, accuracy = 0, lr = 0, grad_norm = 0, tokens_per_s = 0;
};

// One "eval" record (split "val" or "test").
struct EvalPoint {
  std::string split;
  int64_t step = 0, n = 0;
  double accuracy = 0, log_loss = 0;
};

// One row of test_predictions.csv.
struct TestPrediction {
  std::string row_id;
  int label = -1;             // 0 model_a, 1 model_b, 2 tie, -1 none
  std::vector<double> probs;  // one per class
  int64_t tokens = -1;        // length before truncation; -1 unknown
  int truncated = -1;         // 1 over data.max_len, 0 within, -1 unknown
  std::vector<double> swapped_probs;  // B-A order mapped back; empty when the run did not score it
};

struct RunRecord {
  std::string dir;
  std::string name;  // the directory's last component: the legend of overlaid curves
  bool has_config = false;
  TrainConfig config;
  std::vector<TrainPoint> train;  // by step; a resumed run's repeated steps keep their last record
  std::vector<EvalPoint> evals;
  nlohmann::json summary;         // the "summary" record, or null
  std::vector<std::string> split_ids[3];  // train, val, test (empty when split.json is absent)
  std::vector<TestPrediction> test;
  std::vector<std::string> notes;  // one line per file that is missing or damaged
};

// Reads `dir`. Throws arena::Error only when `dir` is not a directory.
RunRecord read_run(const std::string& dir);

}  // namespace arena
