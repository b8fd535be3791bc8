// arena: fine-tune and run a 4-bit Gemma-2 + LoRA preference classifier.
// Thin main: join the MPI world (when started by mpirun/srun), parse, dispatch to a subcommand.
// A failure on any rank ends the whole job with that rank's message (no rank left in a collective).
#include <CLI/CLI.hpp>

#include <exception>
#include <vector>

#include "dist/world.h"
#include "launch/commands.h"
#include "launch/version.h"

int main(int argc, char** argv) {
  const auto& world = arena::init_world(&argc, &argv);
  CLI::App app{"arena: Gemma-2 preference classifier training (NF4 base + LoRA)", "arena"};
  app.set_version_flag("--version", std::string("arena ") + arena::kVersion);
  app.require_subcommand(1);
  std::vector<arena::Command> commands{arena::add_train_command(app), arena::add_eval_command(app),
                                       arena::add_predict_command(app), arena::add_export_command(app),
                                       arena::add_data_command(app), arena::add_inspect_command(app),
                                       arena::add_perplexity_command(app), arena::add_report_command(app)};
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    const int rc = world.is_root() ? app.exit(e) : (e.get_exit_code() == 0 ? 0 : 1);
    arena::finalize_world();
    return rc;
  }
  int rc = 0;
  try {
    for (const auto& run : commands) {
      rc = run();
      if (rc >= 0) break;
    }
  } catch (const std::exception& e) {
    arena::abort_world(e.what());
  }
  arena::finalize_world();
  return rc < 0 ? 0 : rc;
}
