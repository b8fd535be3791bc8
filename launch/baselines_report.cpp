#include "launch/baselines_report.h"

#include <fmt/format.h>

#include "data/pair.h"

namespace arena {

nlohmann::json baselines_json(const Baselines& b) {
  return {{"n", b.n},
          {"non_tie", b.non_tie},
          {"majority", {{"label", label_name(b.majority_label)}, {"accuracy", b.majority_accuracy}}},
          {"longer_answer_chars",
           {{"accuracy", b.longer_chars_accuracy}, {"non_tie_accuracy", b.longer_chars_non_tie_accuracy}}},
          {"longer_answer_tokens",
           {{"accuracy", b.longer_tokens_accuracy}, {"non_tie_accuracy", b.longer_tokens_non_tie_accuracy}}},
          {"label_prior", {{"probabilities", b.prior}, {"log_loss", b.prior_log_loss}}}};
}

std::string baselines_text(const Baselines& b) {
  std::string s = fmt::format("majority ({}) {:.4f} | longer answer {:.4f} by chars, {:.4f} by tokens",
                              label_name(b.majority_label), b.majority_accuracy, b.longer_chars_accuracy,
                              b.longer_tokens_accuracy);
  if (b.non_tie < b.n) {
    s += fmt::format(" ({:.4f}, {:.4f} on the {} non-tie rows)", b.longer_chars_non_tie_accuracy,
                     b.longer_tokens_non_tie_accuracy, b.non_tie);
  }
  return s + fmt::format(" | label-prior log loss {:.4f}", b.prior_log_loss);
}

}  // namespace arena
