// The padded share of the trainer's own batch plans on real data (issue 20): how much of each
// micro-batch is pad tokens under `rows` batching (fixed rows, random order) and `tokens` batching
// (length-grouped under a padded-token budget), for the train split of each file, one epoch, every
// rank's plan. The same plan_epoch and collate shapes the trainer uses, so the share is what a run
// with those settings computes on pad tokens; packing sequences could win at most that share of
// the token-linear work. Not a test: docs/benchmarks.md records its output.
//   bench_padding --data F [--data G ...] [--max-len 1900] [--rows 4,8] [--tokens 7600,16384]
#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <string>
#include <vector>

#include "launch/batches.h"
#include "launch/run_data.h"
#include "launch/train_config.h"

namespace {

struct Options {
  std::vector<std::string> data;
  std::string tokenizer = "../shared/gemma/tokenizer.model";
  std::string labels = "binary";
  int64_t max_len = 1900;
  std::vector<int64_t> rows{4, 8};
  std::vector<int64_t> tokens{7600, 16384};
  int64_t tokens_row_cap = 64;  // batch.rows under tokens batching: the cap on rows
  int world = 1;
  bool json = false;
};

struct Share {
  int64_t batches = 0, rows = 0, real = 0, padded = 0;
  double share() const { return padded > 0 ? 1.0 - static_cast<double>(real) / static_cast<double>(padded) : 0.0; }
};

// Every rank's batches of epoch 0: real tokens (each row's kept length) against rows x longest.
Share plan_share(const arena::TokenizedData& train, const arena::TrainConfig& c, int world) {
  Share s;
  for (int rank = 0; rank < world; ++rank) {
    for (const auto& batch : arena::plan_epoch(train, c, rank, world, 0)) {
      int64_t longest = 0;
      for (const int64_t i : batch) {
        const int64_t len = train.offsets[i + 1] - train.offsets[i];
        longest = std::max(longest, len);
        s.real += len;
      }
      s.padded += longest * static_cast<int64_t>(batch.size());
      s.rows += static_cast<int64_t>(batch.size());
      ++s.batches;
    }
  }
  return s;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  CLI::App app{"Padded share of the trainer's batch plans (rows and tokens batching) on data files"};
  app.add_option("--data", o.data, "Data files (any format arena reads); repeat for several")->required();
  app.add_option("--tokenizer", o.tokenizer, "SentencePiece tokenizer.model");
  app.add_option("--labels", o.labels, "binary or 3class")->check(CLI::IsMember({"binary", "3class"}));
  app.add_option("--max-len", o.max_len, "Token budget per pair (data.max_len)")->check(CLI::PositiveNumber);
  app.add_option("--rows", o.rows, "batch.rows values to plan under rows batching")->delimiter(',');
  app.add_option("--tokens", o.tokens, "batch.tokens values to plan under tokens batching")->delimiter(',');
  app.add_option("--tokens-row-cap", o.tokens_row_cap, "batch.rows under tokens batching (the cap on rows)");
  app.add_option("--world", o.world, "Ranks whose plans are summed")->check(CLI::PositiveNumber);
  app.add_flag("--json", o.json, "One JSON line per plan instead of the table");
  CLI11_PARSE(app, argc, argv);

  if (!o.json)
    fmt::print("| file | train rows | mean kept tokens | batching | batches | rows/batch | padded share |\n"
               "|---|---:|---:|---|---:|---:|---:|\n");
  for (const auto& path : o.data) {
    arena::TrainConfig c;
    c.data_path = path;
    c.tokenizer = o.tokenizer;
    c.labels = o.labels;
    c.max_len = o.max_len;
    const auto data = arena::load_run_data(c, "", false);
    const auto& train = data.train;
    const double mean_len = static_cast<double>(train.offsets.back()) / static_cast<double>(std::max<int64_t>(1, train.size()));
    std::vector<std::pair<std::string, arena::TrainConfig>> plans;
    for (const int64_t r : o.rows) {
      auto p = c;
      p.batching = "rows";
      p.batch_rows = r;
      plans.emplace_back(fmt::format("rows {}", r), p);
    }
    for (const int64_t t : o.tokens) {
      auto p = c;
      p.batching = "tokens";
      p.batch_tokens = t;
      p.batch_rows = o.tokens_row_cap;
      plans.emplace_back(fmt::format("tokens {}", t), p);
    }
    for (const auto& [name, plan] : plans) {
      const auto s = plan_share(train, plan, o.world);
      const double per_batch = static_cast<double>(s.rows) / static_cast<double>(std::max<int64_t>(1, s.batches));
      if (o.json) {
        fmt::print("{}\n", nlohmann::json{{"file", path}, {"train_rows", train.size()}, {"max_len", o.max_len},
                                          {"mean_kept_tokens", mean_len}, {"batching", name}, {"world", o.world},
                                          {"batches", s.batches}, {"rows", s.rows}, {"real_tokens", s.real},
                                          {"padded_tokens", s.padded}, {"padded_share", s.share()}}
                               .dump());
      } else {
        fmt::print("| {} | {} | {:.0f} | {} | {} | {:.1f} | {:.1f} % |\n", path.substr(path.find_last_of('/') + 1),
                   train.size(), mean_len, name, s.batches, per_batch, 100 * s.share());
      }
    }
  }
  return 0;
}
