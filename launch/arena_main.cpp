// arena: fine-tune and run a 4-bit Gemma-2 + LoRA preference classifier.
// Thin main: parse, dispatch to a subcommand, report an error once and exit non-zero.
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <exception>
#include <vector>

#include "launch/commands.h"
#include "launch/version.h"

int main(int argc, char** argv) {
  CLI::App app{"arena: Gemma-2 preference classifier training (NF4 base + LoRA)", "arena"};
  app.set_version_flag("--version", std::string("arena ") + arena::kVersion);
  app.require_subcommand(1);
  std::vector<arena::Command> commands{arena::add_inspect_command(app), arena::add_data_command(app)};
  CLI11_PARSE(app, argc, argv);
  try {
    for (const auto& run : commands) {
      const int rc = run();
      if (rc >= 0) return rc;
    }
  } catch (const std::exception& e) {
    fmt::print(stderr, "arena: error: {}\n", e.what());
    return 1;
  }
  return 0;
}
