// The command-line face of TrainConfig: `-c FILE` plus one option per setting (--optim.lr, ...,
// with short aliases such as --data), all generated from config_fields(), so --help lists exactly
// what the TOML reader accepts.
#pragma once

#include <CLI/CLI.hpp>

#include <deque>
#include <string>
#include <vector>

#include "launch/train_config.h"

namespace arena {

class ConfigOptions {
 public:
  // Adds -c/--config and every setting to `app`; --help shows the built-in defaults.
  explicit ConfigOptions(CLI::App* app);
  // Built-in defaults (or `base_toml`, e.g. a checkpoint's resolved config), then the TOML file
  // (when -c was given), then the options given on the command line; validated when `checked`.
  TrainConfig resolve(const std::string& base_toml = "", const std::string& base_source = "",
                      bool checked = true) const;

 private:
  std::string config_file_;
  std::deque<std::string> values_;  // one per field, stable addresses for CLI11
  std::vector<CLI::Option*> options_;
};

}  // namespace arena
