// The sections of `arena report`'s page, each drawing its charts into the report directory:
//   training  loss, accuracy, learning rate, gradient norm and tokens/s by step, every run overlaid,
//             with the val and test evaluations as points
//   data      token lengths before truncation (budget marked, truncated share), label balance by
//             split and, with model names (LMSYS), win rate per model and the winner against the
//             answers' length difference
//   test      the model on the test split: confusion matrix, reliability diagram with its expected
//             calibration error, accuracy by length bucket, swap consistency when the run has it
// A chart that cannot be drawn (no data for it, gnuplot failed) becomes a note, not an error.
#pragma once

#include <string>
#include <vector>

#include "launch/report_data.h"
#include "launch/report_page.h"
#include "launch/report_run.h"

namespace arena {

Section training_section(const std::vector<RunRecord>& runs, const std::string& dir);
// `key` is the file-name prefix of its charts ("data1"); `run_names` the runs this data belongs to.
Section data_section(const DataView& data, const std::string& run_names, const std::string& key,
                     const std::string& dir);
Section test_section(const RunRecord& run, const std::string& key, const std::string& dir);

}  // namespace arena
