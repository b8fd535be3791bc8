// What a run trained and tested on, written by rank 0 next to metrics.jsonl, so another
// implementation (bench/peer_train.py) or a later analysis can replay the same rows:
//   split.json      {"train": [row ids], "val": [...], "test": [...]}: always written
//   batches.jsonl   one line per optimizer step (train.log_batches): {"step", "epoch",
//                   "ranks": [[[row ids of micro-batch 0], ...accum_steps], ...one per rank]};
//                   "<id>#swapped" is that row with A and B exchanged (train.swap)
//   initial_adapter/  the LoRA adapters and head before the first step, in PEFT's format
//                   (train.log_batches; written by the trainer with save_peft_adapter)
//   test_predictions.csv  the model's class probabilities on every test row at the end of training:
//                   row_id,label,p_model_a,p_model_b[,p_tie],tokens,truncated[,swapped_p_model_a,...]
//                   label is 0 model_a / 1 model_b / 2 tie / -1 none; tokens is the length before
//                   truncation (template included), truncated 1 when it exceeds data.max_len; the
//                   swapped_ columns (train.swap runs) are the probabilities of the pair scored in
//                   B-A order, mapped back to A-B order (unswap), for swap consistency
// The token ids of each row are in the run's token cache (tokens.h5, data/token_cache.h).
#pragma once

#include <cstdint>
#include <cstdio>
#include <map>
#include <string>

#include "launch/batches.h"
#include "launch/run_data.h"
#include "launch/train_config.h"

namespace arena {

// Writes <out>/split.json atomically (temp file + rename).
void write_split_file(const std::string& out, const RunData& data);

// Writes <out>/test_predictions.csv atomically. probs: [test.size(), L] float64 (class_probabilities);
// swapped_probs: undefined, or the same shape in A-B order (unswap of the B-A scores).
void write_test_predictions(const std::string& out, const TokenizedData& test, int64_t max_len,
                            const torch::Tensor& probs, const torch::Tensor& swapped_probs);

class BatchLog {
 public:
  // Appends to <out>/batches.jsonl when `enabled` (a resumed run continues the file).
  BatchLog(const TrainConfig& c, const TokenizedData& train, int world, bool enabled);
  ~BatchLog();
  BatchLog(const BatchLog&) = delete;
  BatchLog& operator=(const BatchLog&) = delete;
  // The micro-batches of every rank for optimizer step `step` (1-based), which starts at
  // micro-batch `cursor` of `epoch`'s plan.
  void record(int64_t step, int64_t epoch, int64_t cursor);
  // After an elastic resume: `epoch`'s plan covers that epoch's rows minus `skip` (launch/elastic.h).
  void skip_in(int64_t epoch, const std::vector<int64_t>& skip);

 private:
  const TrainConfig& c_;
  const TokenizedData& train_;
  int world_;
  std::FILE* file_ = nullptr;
  std::map<int64_t, std::vector<BatchList>> plans_;  // epoch -> one plan per rank
  int64_t skip_epoch_ = -1;
  std::vector<int64_t> skip_;
};

}  // namespace arena
