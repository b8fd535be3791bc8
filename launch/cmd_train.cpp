#include <memory>

#include "launch/checkpoint.h"
#include "launch/commands.h"
#include "launch/config_cli.h"
#include "launch/trainer.h"

namespace arena {

Command add_train_command(CLI::App& app) {
  auto* cmd = app.add_subcommand("train", "Train LoRA adapters + head on the train split (mpirun/srun for several ranks)");
  auto options = std::make_shared<ConfigOptions>(cmd);
  return [cmd, options]() {
    if (!cmd->parsed()) return -1;
    auto c = options->resolve("", "", false);
    if (!c.resume.empty()) {
      // Resume from the checkpoint's own resolved config; -c and the command line still override it.
      const auto path = resume_checkpoint(c.resume, c.resume_fallback);
      c = options->resolve(read_checkpoint(path).config_toml, path + " (config)");
      c.resume = path;
    }
    validate(c);
    return run_training(c);
  };
}

}  // namespace arena
