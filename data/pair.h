// One preference example, whatever file it came from, and the account of rows that were not used.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace arena {

// Label ids used everywhere: the order of LMSYS's winner_model_a / winner_model_b / winner_tie.
enum Label : int { kLabelA = 0, kLabelB = 1, kLabelTie = 2, kLabelNone = -1 /* unlabelled (test files) */ };
const char* label_name(int label);  // "model_a", "model_b", "tie", "none"

struct Pair {
  std::string id;
  std::vector<std::string> prompt;      // user turns, in order
  std::vector<std::string> response_a;  // one answer per prompt turn
  std::vector<std::string> response_b;
  int label = kLabelNone;
  // The two models' names where the file has them (LMSYS/WSDM model_a, model_b); "" otherwise.
  // Not used for training: `arena report` draws win rates per model from them.
  std::string model_a, model_b;
  // Reward models: how much more the better answer should score (TRL's per-row "margin"); 0 if the
  // row has none. JSONL rows carry it as "margin".
  double margin = 0;
};

// How a row was skipped: file, 1-based line (JSONL) or record start line (CSV), id if known, reason.
struct SkippedRow {
  std::string file;
  int64_t line = 0;
  std::string id;
  std::string reason;
};

struct ReadReport {
  int64_t rows_read = 0;                    // data rows seen (header excluded)
  std::map<std::string, int64_t> skipped;   // reason -> count
  std::vector<SkippedRow> examples;         // the first few skipped rows, for the message
  void skip(SkippedRow row);                // counts it, keeps the first 20 as examples
  int64_t skipped_total() const;
};

}  // namespace arena
