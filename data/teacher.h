// Teacher probabilities for distillation (train.objective = "distill"), keyed by row id.
//
// A teacher file holds one row per pair: an `id` and the teacher's probability of each class, in
// label order (A wins, B wins[, tie]). The default columns are those of an LMSYS submission,
// winner_model_a, winner_model_b[, winner_tie], so `arena predict --probabilities` output (or any
// Kaggle-style submission) is a teacher file as it is. Formats:
//   .csv[.gz]       a header with `id` and the columns
//   .jsonl[.gz]     objects with "id" and the columns; with one column named, its value may be a
//                   list of all the probabilities ({"id": 7, "probs": [0.2, 0.8]})
//   .parquet        `id` and the columns, read with Arrow
// The training data file itself may be a teacher file: name its teacher columns in distill.columns.
//
// Several teachers combine as the weighted mean of their probabilities. A row is usable only when
// every teacher has a value for it that is: present, a number, finite, non-negative, of the
// right arity, summing to 1 within `tolerance`, and given once. Otherwise lookup() says why: a
// reason that names the teacher file (rows are counted by it) and the line of the offending row.
// A file that cannot be read at all, or lacks the `id` column or a named column, is an arena::Error.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace arena {

struct TeacherOptions {
  std::vector<std::string> paths;
  std::vector<double> weights;       // one per path, > 0; empty: equal weights
  std::vector<std::string> columns;  // probability columns in label order
  double tolerance = 1e-3;           // a row's probabilities must sum to 1 within this
};

// The default columns for `num_labels` classes: winner_model_a, winner_model_b[, winner_tie].
std::vector<std::string> default_teacher_columns(int num_labels);

// Why a row has no usable teacher value: `reason` names the teacher file and the kind of problem
// (rows are counted by it), `line` is the teacher file's line (0 when the id is absent).
struct TeacherProblem {
  std::string file;
  int64_t line = 0;
  std::string reason;
};

class TeacherTargets {
 public:
  // Reads every teacher file. `num_labels`: the arity every row must have.
  TeacherTargets(const TeacherOptions& options, int num_labels);

  // The weighted mean probabilities for `id` (num_labels values), or false and the reason.
  bool lookup(const std::string& id, std::vector<double>& probs, TeacherProblem& why) const;

  int num_labels() const { return num_labels_; }

 private:
  struct Entry {
    std::vector<double> probs;  // empty when the row is unusable
    TeacherProblem problem;     // why it is unusable
  };
  struct File {
    std::string path;
    double weight = 1;
    std::map<std::string, Entry> rows;
  };
  void read_file(File& f, const std::vector<std::string>& columns);
  void add_row(File& f, const std::string& id, int64_t line, std::vector<double> values, std::string problem);

  std::vector<File> files_;
  int num_labels_ = 0;
  double tolerance_ = 1e-3;
};

}  // namespace arena
