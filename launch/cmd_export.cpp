#include <fmt/format.h>
#include <torch/torch.h>

#include <filesystem>
#include <memory>

#include "dist/world.h"
#include "launch/commands.h"
#include "launch/inference.h"
#include "launch/model_setup.h"
#include "model/peft/peft_adapter.h"

namespace arena {
namespace {

struct ExportOptions {
  std::string checkpoint, out;
  bool with_base = false;
};

int run_export(const ExportOptions& o) {
  if (!world().is_root()) return 0;
  auto run = load_trained(o.checkpoint, "cpu");
  const auto& c = run.config;
  const std::string base = c.model_path.empty() ? "random-init (see base/ or train.seed)" : c.model_path;
  save_peft_adapter(*run.model, qlora_options(c), o.out, base);
  fmt::print("adapter     {}/adapter_model.safetensors + adapter_config.json (step {})\n", o.out, run.step);
  if (o.with_base) {
    const auto path = (std::filesystem::path(o.out) / "base" / "model.safetensors").string();
    std::filesystem::create_directories(std::filesystem::path(path).parent_path());
    save_dense_base(*run.model, path, torch::kFloat32);
    fmt::print("base        {} (frozen base, dequantized)\n", path);
  }
  return 0;
}

}  // namespace

Command add_export_command(CLI::App& app) {
  auto o = std::make_shared<ExportOptions>();
  auto* cmd = app.add_subcommand("export", "Write a checkpoint's adapters + head as a PEFT LoRA adapter");
  add_checkpoint_option(cmd, o->checkpoint);
  cmd->add_option("--out", o->out, "Output directory")->required();
  cmd->add_flag("--with-base", o->with_base, "Also write the frozen base (dequantized, fp32) as base/model.safetensors");
  return [cmd, o]() { return cmd->parsed() ? run_export(*o) : -1; };
}

}  // namespace arena
