// Baselines (data/baselines.h): exact values on a hand-made split, and the longer-answer rate on
// the real files against a count made independently in Python (stated below). The shared data's
// README quotes 71.8 % for Auto-J (it leaves out the 6 rows whose answers are equally long: 727 of
// 1,013) and 63.7 % for LMSYS (it measures the JSON-encoded field, brackets and quotes included:
// 449 of 705); ours counts every non-tie row and the answers' own text.
#include <gtest/gtest.h>

#include <cmath>

#include "data/baselines.h"
#include "data/encode.h"
#include "data/reader.h"
#include "data/token_cache.h"
#include "data/tokenizer.h"
#include "test_support.h"

namespace arena {
namespace {

TokenizedData rows(std::vector<int32_t> labels, std::vector<int64_t> chars, std::vector<int64_t> tokens) {
  TokenizedData d;
  d.labels = std::move(labels);
  d.answer_chars = std::move(chars);
  d.answer_tokens = std::move(tokens);
  return d;
}

TEST(Baselines, ExactOnAHandMadeSplit) {
  // train: 3 x A, 1 x B, 1 tie -> majority A, prior (0.6, 0.2, 0.2).
  const auto train = rows({0, 0, 0, 1, 2}, std::vector<int64_t>(10, 1), std::vector<int64_t>(10, 1));
  // eval rows: A longer & label A; B longer & label B; A longer by chars, B by tokens, label B;
  // equal lengths (-> A, the train's more frequent of A/B), label tie.
  const auto eval = rows({0, 1, 1, 2}, {10, 5, 5, 10, 9, 8, 7, 7}, {3, 1, 1, 3, 1, 2, 4, 4});
  const auto b = compute_baselines(eval, train, 3);
  EXPECT_EQ(b.n, 4);
  EXPECT_EQ(b.non_tie, 3);
  EXPECT_EQ(b.majority_label, 0);
  EXPECT_DOUBLE_EQ(b.majority_accuracy, 0.25);
  EXPECT_DOUBLE_EQ(b.longer_chars_accuracy, 0.5);
  EXPECT_DOUBLE_EQ(b.longer_tokens_accuracy, 0.75);
  EXPECT_DOUBLE_EQ(b.longer_chars_non_tie_accuracy, 2.0 / 3.0);
  EXPECT_DOUBLE_EQ(b.longer_tokens_non_tie_accuracy, 1.0);
  EXPECT_NEAR(b.prior_log_loss, -(std::log(0.6) + 2 * std::log(0.2) + std::log(0.2)) / 4, 1e-12);
}

double longer_non_tie(const std::string& file, LabelMode labels) {
  ReadOptions o;
  o.labels = labels;
  const auto data = read_pairs((testing::shared_dir() / "data" / file).string(), o);
  const Tokenizer tok((testing::shared_dir() / "gemma" / "tokenizer.model").string());
  const auto all = tokenize(data, PairEncoder(tok, 256));
  return compute_baselines(all, all, labels == LabelMode::kBinary ? 2 : 3).longer_chars_non_tie_accuracy;
}

TEST(Baselines, LongerAnswerRatesOnTheRealFiles) {
  // Python: 727 rows right where the lengths differ, plus 1 of the 6 equal-length rows (label A,
  // the predicted side on a length tie) = 728 of 1,019.
  EXPECT_DOUBLE_EQ(longer_non_tie("autoj-pairwise.jsonl", LabelMode::kBinary), 728.0 / 1019.0);
  // Python on the turns' text: 446 right where the lengths differ, plus 1 of the 2 equal ones.
  EXPECT_DOUBLE_EQ(longer_non_tie("lmsys-arena-train-head1000.csv", LabelMode::kThreeClass), 447.0 / 705.0);
}

}  // namespace
}  // namespace arena
