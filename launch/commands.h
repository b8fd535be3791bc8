// Subcommands of the `arena` binary. Each registers its options on the CLI11 app and returns
// the function to run once parsing succeeded. Mains stay thin: logic lives in the libraries.
#pragma once

#include <CLI/CLI.hpp>

#include <functional>

namespace arena {

using Command = std::function<int()>;

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

}  // namespace arena
