// Which TensorBoard scalars a metrics.jsonl record becomes (launch/metrics_log.h writes both).
//
// Tag = <group>/<field> for every number in the record except "step" (booleans and strings are
// not scalars; nested objects add their keys, arrays their indices: "/label_prior/probabilities/0").
//   kind        group             scalars (as trainer.cpp writes them today)
//   start       run               ranks, trainable_params, trainable_bytes, total_steps, warmup_steps,
//                                 resumed_at, train_rows
//   train       train             epoch, loss, accuracy, lr, grad_norm, rows, tokens, reduced_bytes,
//                                 tokens_per_s, samples_per_s
//   skip        train             skipped_steps (cumulative over the run), ranks_nonfinite
//   eval        <split>           n, accuracy, log_loss, log_loss_se       (val/accuracy, test/log_loss)
//   baselines   <split>/baselines n, non_tie, majority/accuracy, longer_answer_chars/accuracy, ...
//   stopped     stopped           signal
//   summary     summary           steps, skipped_steps, samples, tokens, test_accuracy, test_log_loss,
//                                 train_seconds
//   checkpoint  -                 (no numbers besides the step)
//   other kinds <kind>            every number
// A new numeric field in a record appears in TensorBoard without a change here.
//
// Step: the record's "step"; else "resumed_at" (start) or "steps" (summary); else the step of
// the previous record (baselines). Values are stored as float32, as TensorBoard's scalars are.
#pragma once

#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace arena {

struct TbScalars {
  int64_t step = 0;
  std::vector<std::pair<std::string, double>> values;  // (tag, value), in the keys' sorted order (nlohmann::json)
};

// `previous_step`: the step of the record before (for records that carry none).
TbScalars tb_scalars(const nlohmann::json& record, int64_t previous_step);

}  // namespace arena
