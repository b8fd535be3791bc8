// Subcommands of the `arena` binary. Each registers its options on the CLI11 app and returns
// the function to run once parsing succeeded. Mains stay thin: logic lives in the libraries.
#pragma once

#include <CLI/CLI.hpp>

#include <functional>
#include <string>

namespace arena {

using Command = std::function<int()>;

// Options several commands share, spelled once.
inline CLI::Option* add_checkpoint_option(CLI::App* cmd, std::string& target) {
  return cmd->add_option("--checkpoint", target, "Run directory (newest checkpoint) or checkpoint .h5")->required();
}
// Format names as data/reader.h parses them.
inline CLI::Option* add_format_option(CLI::App* cmd, std::string& target, const std::string& what = "Input format") {
  return cmd->add_option("--format", target, what)
      ->check(CLI::IsMember({"auto", "lmsys", "wsdm", "pairwise", "parquet"}));
}

// `arena inspect`: architecture and exact parameter/byte counts of a model, without weights.
Command add_inspect_command(CLI::App& app);

// `arena data`: rows read and skipped, labels, split sizes, token lengths of a data file.
Command add_data_command(CLI::App& app);

// `arena train`: the distributed training job (TOML config + command-line overrides).
Command add_train_command(CLI::App& app);

// `arena eval`: accuracy and log loss of a checkpoint.
Command add_eval_command(CLI::App& app);

// `arena predict`: a competition submission from a checkpoint.
Command add_predict_command(CLI::App& app);

// `arena export`: a checkpoint's adapters as a PEFT adapter directory.
Command add_export_command(CLI::App& app);

// `arena perplexity`: next-token loss of a pretrained model on text files.
Command add_perplexity_command(CLI::App& app);

// `arena report`: an HTML page of charts for run directories (training, data, test split).
Command add_report_command(CLI::App& app);

}  // namespace arena
