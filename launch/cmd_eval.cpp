#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <memory>

#include "data/baselines.h"
#include "dist/world.h"
#include "launch/baselines_report.h"
#include "launch/commands.h"
#include "launch/evaluate.h"
#include "launch/inference.h"
#include "launch/run_data.h"

namespace arena {
namespace {

struct EvalOptions {
  std::string checkpoint, data, format, split = "test", device = "auto";
  int64_t rows = 0;
  bool json = false;
};

int run_eval(const EvalOptions& o) {
  auto run = load_trained(o.checkpoint, o.device);
  auto c = run.config;
  if (!o.data.empty()) c.data_path = o.data;
  if (!o.format.empty()) c.data_format = o.format;
  if (o.split == "all") c.train_fraction = 1.0, c.val_fraction = 0.0;
  const auto data = load_run_data(c, "", false);
  const auto& part = o.split == "val" ? data.val : o.split == "test" ? data.test : data.train;
  const auto r = evaluate(*run.model, part, o.rows > 0 ? o.rows : c.eval_rows, run.device);
  if (!world().is_root()) return 0;
  const auto base = compute_baselines(part, data.train, static_cast<int>(c.num_labels));
  fmt::print("checkpoint  {} (step {})\n", run.checkpoint, run.step);
  fmt::print("data        {} ({} split, {} rows; {} rows skipped while reading)\n", c.data_path, o.split, r.n,
             data.report.skipped_total());
  fmt::print("accuracy    {:.4f} ± {:.4f}\nlog loss    {:.4f} ± {:.4f}   (95 % intervals from the {} rows)\n",
             r.accuracy, 1.96 * r.accuracy_se(), r.log_loss, 1.96 * r.log_loss_se, r.n);
  fmt::print("baselines   {}\n", baselines_text(base));
  if (o.json)
    fmt::print("{}\n", nlohmann::json{{"n", r.n}, {"accuracy", r.accuracy}, {"log_loss", r.log_loss}, {"log_loss_se", r.log_loss_se},
                                      {"split", o.split}, {"step", run.step}, {"baselines", baselines_json(base)}}
                           .dump());
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
  cmd->add_flag("--json", o->json, "End with one JSON object {n, accuracy, log_loss, ...} on stdout's last line");
  return [cmd, o]() { return cmd->parsed() ? run_eval(*o) : -1; };
}

}  // namespace arena
