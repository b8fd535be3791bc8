#include <fmt/format.h>
#include <torch/torch.h>

#include <chrono>
#include <filesystem>
#include <fstream>
#include <memory>

#include "common/error.h"
#include "data/encode.h"
#include "data/reader.h"
#include "data/token_cache.h"
#include "data/tokenizer.h"
#include "dist/world.h"
#include "launch/commands.h"
#include "launch/evaluate.h"
#include "launch/inference.h"
#include "model/peft/qlora.h"

namespace arena {
namespace {

struct PredictOptions {
  std::string checkpoint, data, out = "submission.csv", format = "auto", device = "auto";
  std::string attention;  // empty: the run's model.attention
  int64_t rows = 0;
  bool swap_average = false, probabilities = false;
};

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\n\r") == std::string::npos) return s;
  std::string q = "\"";
  for (const char ch : s) q += ch == '"' ? std::string("\"\"") : std::string(1, ch);
  return q + "\"";
}

int run_predict(const PredictOptions& o) {
  auto run = load_trained(o.checkpoint, o.device, o.attention);
  trainables_to_compute_dtype(*run.model);  // forward passes only: cast once, not at every use
  const auto& c = run.config;
  ReadOptions ro;
  ro.format = parse_data_format(o.format);
  ro.labels = LabelMode::kThreeClass;  // every row gets a prediction: labels (ties too) are not used
  ro.require_labels = false;           // test files have no labels
  const Tokenizer tok(c.tokenizer);
  const PairEncoder encoder(tok, c.max_len, c.show_lengths);
  const int64_t rows = o.rows > 0 ? o.rows : c.eval_rows;
  const bool reward = c.objective == "reward";
  check(!(reward && o.swap_average), "predict --swap-average: a reward model scores each answer on its own; the A/B "
        "order does not change its rewards");
  // The file streamed (data/reader.h for_each_pair): each pair is encoded as it is read, in both
  // orders for --swap-average, and only its token ids and row id are kept, not its text.
  TokenizedData pairs, swapped;
  pairs.offsets = swapped.offsets = {0};
  if (reward) pairs.offsets_b = {0};
  const auto info = for_each_pair(o.data, ro, [&](Pair&& p) {
    if (reward) append_responses(pairs, encoder.encode_responses(p), p.id, p.margin);
    else append_pair(pairs, encoder.encode(p), p.id);
    if (o.swap_average) append_pair(swapped, encoder.encode(p, /*swap_ab=*/true), p.id);
  });
  const auto t_forward = std::chrono::steady_clock::now();
  const auto rewards = reward ? reward_scores(*run.model, pairs, rows, run.device, "predict") : torch::Tensor();
  auto probs = reward ? torch::softmax(rewards, -1) : class_probabilities(*run.model, pairs, rows, run.device, "predict");
  if (o.swap_average) {
    // Score B-vs-A as well; its "A wins" is our "B wins". Average the two views.
    probs = (probs + unswap(class_probabilities(*run.model, swapped, rows, run.device, "predict B-A"))) / 2;
  }
  // The model's work alone (batches, forward, softmax; every rank's rows done): the throughput figure.
  const double forward_s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t_forward).count();
  const int64_t tokens = static_cast<int64_t>(pairs.ids.size() + pairs.ids_b.size() + swapped.ids.size());
  if (!world().is_root()) return 0;
  const auto parent = std::filesystem::path(o.out).parent_path();
  if (!parent.empty()) std::filesystem::create_directories(parent);
  const std::string tmp = o.out + ".tmp";
  {
    std::ofstream out(tmp);
    check(out.good(), "{}: cannot write", tmp);
    const auto p = probs.accessor<double, 2>();
    if (reward) {  // each answer's reward, and P(A preferred) = sigmoid(r_A - r_B)
      const auto r = rewards.accessor<double, 2>();
      out << "id,reward_a,reward_b,winner_model_a,winner_model_b\n";
      for (int64_t i = 0; i < probs.size(0); ++i)
        out << fmt::format("{},{:.6f},{:.6f},{:.9f},{:.9f}\n", csv_field(pairs.row_ids[i]), r[i][0], r[i][1], p[i][0],
                           p[i][1]);
    } else if (c.num_labels == 3) {
      out << "id,winner_model_a,winner_model_b,winner_tie\n";
      for (int64_t i = 0; i < probs.size(0); ++i)
        out << fmt::format("{},{:.6f},{:.6f},{:.6f}\n", csv_field(pairs.row_ids[i]), p[i][0], p[i][1], p[i][2]);
    } else if (o.probabilities) {
      out << "id,winner_model_a,winner_model_b\n";
      for (int64_t i = 0; i < probs.size(0); ++i)
        out << fmt::format("{},{:.9f},{:.9f}\n", csv_field(pairs.row_ids[i]), p[i][0], p[i][1]);
    } else {
      out << "id,winner\n";
      for (int64_t i = 0; i < probs.size(0); ++i)
        out << csv_field(pairs.row_ids[i]) << (p[i][1] > p[i][0] ? ",model_b\n" : ",model_a\n");
    }
    check(out.good(), "{}: write failed", tmp);
  }
  std::filesystem::rename(tmp, o.out);
  fmt::print(stderr, "predict: {} rows of {} ({} skipped while reading{}) -> {}\n", probs.size(0), o.data,
             info.report.skipped_total(), o.swap_average ? ", A/B swap averaged" : "", o.out);
  fmt::print(stderr, "predict: model time {:.2f} s for {} rows, {} tokens: {:.1f} rows/s, {:.0f} tokens/s ({})\n",
             forward_s, probs.size(0), tokens, static_cast<double>(probs.size(0)) / forward_s,
             static_cast<double>(tokens) / forward_s,
             world().size > 1 ? fmt::format("{} ranks, {}", world().size, run.device.str()) : run.device.str());
  return 0;
}

}  // namespace

Command add_predict_command(CLI::App& app) {
  auto o = std::make_shared<PredictOptions>();
  auto* cmd = app.add_subcommand("predict", "Write a competition submission (LMSYS: 3 probabilities; WSDM: winner; a reward model: both rewards and P(A))");
  add_checkpoint_option(cmd, o->checkpoint);
  cmd->add_option("--data", o->data, "test.csv (LMSYS) or test.parquet / .jsonl (WSDM)")->required();
  cmd->add_option("--out", o->out, "Submission CSV")->capture_default_str();
  add_format_option(cmd, o->format);
  cmd->add_flag("--swap-average", o->swap_average, "Average with the A/B-swapped pair's prediction");
  cmd->add_flag("--probabilities", o->probabilities,
                "Two classes: write id,winner_model_a,winner_model_b probabilities instead of the winner (a teacher "
                "file for train.objective = distill); three classes always do");
  cmd->add_option("--batch-size", o->rows, "Rows per batch (default: the run's batch.eval_rows)");
  cmd->add_option("--device", o->device, "auto, cpu or cuda")->check(CLI::IsMember({"auto", "cpu", "cuda"}));
  cmd->add_option("--attention", o->attention,
                  "Attention core: auto, eager or flash (CUDA, bf16: the flash-style kernels); default: the run's "
                  "model.attention")
      ->check(CLI::IsMember({"auto", "eager", "flash"}));
  return [cmd, o]() { return cmd->parsed() ? run_predict(*o) : -1; };
}

}  // namespace arena
