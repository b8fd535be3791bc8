#include "data/pair.h"

namespace arena {

const char* label_name(int label) {
  switch (label) {
    case kLabelA: return "model_a";
    case kLabelB: return "model_b";
    case kLabelTie: return "tie";
    default: return "none";
  }
}

void ReadReport::skip(SkippedRow row) {
  ++skipped[row.reason];
  if (examples.size() < 20) examples.push_back(std::move(row));
}

int64_t ReadReport::skipped_total() const {
  int64_t n = 0;
  for (const auto& [_, c] : skipped) n += c;
  return n;
}

}  // namespace arena
