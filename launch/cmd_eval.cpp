#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <memory>

#include "common/error.h"
#include "data/baselines.h"
#include "dist/world.h"
#include "launch/baselines_report.h"
#include "launch/commands.h"
#include "launch/evaluate.h"
#include "launch/inference.h"
#include "launch/run_data.h"
#include "model/peft/qlora.h"

namespace arena {
namespace {

struct EvalOptions {
  std::string checkpoint, data, format, split = "test", device = "auto";
  std::string attention;  // empty: the run's model.attention
  int64_t rows = 0;
  bool json = false, swap_average = false;
};

int run_eval(const EvalOptions& o) {
  auto run = load_trained(o.checkpoint, o.device, o.attention);
  trainables_to_compute_dtype(*run.model);  // forward passes only: cast once, not at every use
  auto c = run.config;
  if (!o.data.empty()) c.data_path = o.data;
  if (!o.format.empty()) c.data_format = o.format;
  if (o.split == "all") c.train_fraction = 1.0, c.val_fraction = 0.0;
  const auto data = load_run_data(c, "", false, o.swap_average);
  const auto& part = o.split == "val" ? data.val : o.split == "test" ? data.test : data.train;
  const int64_t rows = o.rows > 0 ? o.rows : c.eval_rows;
  const bool reward = part.has_responses();
  check(!(reward && o.swap_average), "eval --swap-average: a reward model scores each answer on its own; the A/B "
        "order does not change its rewards");
  const auto rewards = reward ? reward_scores(*run.model, part, rows, run.device, "eval") : torch::Tensor();
  auto probs = reward ? torch::softmax(rewards, -1) : class_probabilities(*run.model, part, rows, run.device, "eval");
  nlohmann::json swap_json;
  std::string swap_text;
  if (o.swap_average) {  // score B-vs-A too, report how the order matters, and average the two views
    const auto& swapped = o.split == "val" ? data.val_swapped : o.split == "test" ? data.test_swapped
                                                                                  : data.train_swapped;
    const auto back = unswap(class_probabilities(*run.model, swapped, rows, run.device, "eval B-A"));
    const auto s = swap_report(probs, back, part);
    const auto single = score(probs, part);
    probs = (probs + back) / 2;
    swap_json = {{"consistency", s.consistency}, {"accuracy_model_a_won", s.accuracy_a_won},
                 {"accuracy_model_b_won", s.accuracy_b_won}, {"n_model_a_won", s.n_a}, {"n_model_b_won", s.n_b},
                 {"accuracy_unaveraged", single.accuracy}, {"log_loss_unaveraged", single.log_loss}};
    if (c.num_labels == 3) swap_json.update({{"accuracy_tie", s.accuracy_tie}, {"n_tie", s.n_tie}});
    swap_text = fmt::format("swap        averaged over both A/B orders; the given order alone: accuracy {:.4f}, log "
                            "loss {:.4f}\n            consistency {:.4f} (same winner both ways); accuracy where A "
                            "won {:.4f} (n {}), where B won {:.4f} (n {})\n",
                            single.accuracy, single.log_loss, s.consistency, s.accuracy_a_won, s.n_a,
                            s.accuracy_b_won, s.n_b);
  }
  auto r = score(probs, part);
  if (reward) r.mean_margin = mean_margin(rewards, part);
  if (!world().is_root()) return 0;
  const auto base = compute_baselines(part, data.train, static_cast<int>(std::max<int64_t>(2, c.num_labels)));
  fmt::print("checkpoint  {} (step {})\n", run.checkpoint, run.step);
  fmt::print("data        {} ({} split, {} rows; {} rows skipped while reading)\n", c.data_path, o.split, r.n,
             data.report.skipped_total());
  fmt::print("accuracy    {:.4f} ± {:.4f}\nlog loss    {:.4f} ± {:.4f}   (95 % intervals from the {} rows)\n",
             r.accuracy, 1.96 * r.accuracy_se(), r.log_loss, 1.96 * r.log_loss_se, r.n);
  if (reward)
    fmt::print("reward      pairwise accuracy above (r_chosen > r_rejected), log loss of sigmoid(r_A - r_B); "
               "mean margin r_chosen - r_rejected {:.4f}\n", r.mean_margin);
  fmt::print("baselines   {}\n{}", baselines_text(base), swap_text);
  if (o.json) {
    nlohmann::json j = {{"n", r.n}, {"accuracy", r.accuracy}, {"log_loss", r.log_loss},
                        {"log_loss_se", r.log_loss_se}, {"split", o.split}, {"step", run.step},
                        {"baselines", baselines_json(base)}};
    if (o.swap_average) j["swap"] = swap_json;
    if (reward) j["mean_margin"] = r.mean_margin;
    fmt::print("{}\n", j.dump());
  }
  return 0;
}

}  // namespace

Command add_eval_command(CLI::App& app) {
  auto o = std::make_shared<EvalOptions>();
  auto* cmd = app.add_subcommand("eval", "Accuracy and log loss of a checkpoint on a split of a data file");
  add_checkpoint_option(cmd, o->checkpoint);
  cmd->add_option("--data", o->data, "Data file (default: the run's data.path)");
  add_format_option(cmd, o->format, "Input format (default: the run's)");
  cmd->add_option("--split", o->split, "Rows to score: the run's 70/10/20 split part, or all")
      ->check(CLI::IsMember({"test", "val", "train", "all"}))
      ->capture_default_str();
  cmd->add_option("--batch-size", o->rows, "Rows per batch (default: the run's batch.eval_rows)");
  cmd->add_option("--device", o->device, "auto, cpu or cuda")->check(CLI::IsMember({"auto", "cpu", "cuda"}));
  cmd->add_option("--attention", o->attention,
                  "Attention core: auto, eager or flash (CUDA, bf16: the flash-style kernels); default: the run's "
                  "model.attention")
      ->check(CLI::IsMember({"auto", "eager", "flash"}));
  cmd->add_flag("--swap-average", o->swap_average,
                "Also score every pair with A and B exchanged: average the two, report swap consistency and "
                "accuracy by which side won");
  cmd->add_flag("--json", o->json, "End with one JSON object {n, accuracy, log_loss, ...} on stdout's last line");
  return [cmd, o]() { return cmd->parsed() ? run_eval(*o) : -1; };
}

}  // namespace arena
