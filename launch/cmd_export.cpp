#include <fmt/format.h>
#include <torch/torch.h>

#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/error.h"
#include "dist/world.h"
#include "launch/commands.h"
#include "launch/inference.h"
#include "launch/checkpoint.h"
#include "launch/model_setup.h"
#include "launch/train_config.h"
#include "data/pair.h"
#include "model/peft/merged_export.h"
#include "model/peft/peft_adapter.h"

namespace arena {
namespace {

struct ExportOptions {
  std::string checkpoint, out, merged;
  std::vector<std::string> average;
  bool with_base = false;
};

// Sets `run`'s adapters and head to the mean over `runs` (run directories or checkpoint files) of
// the same base and the same trainable tensors: fold models averaged into one adapter.
void average_into(TrainedModel& run, const std::vector<std::string>& runs) {
  const double fingerprint = base_fingerprint(*run.model);
  const auto trainable = peft_trainable_parameters(*run.model);
  std::map<std::string, torch::Tensor> sum;
  for (const auto& [name, t] : trainable) sum[name] = t.detach().to(torch::kFloat64).clone();
  for (size_t k = 1; k < runs.size(); ++k) {
    const auto path = find_checkpoint(runs[k]);
    const auto ck = read_checkpoint(path);
    TrainConfig other;
    load_toml_text(other, ck.config_toml, path + " (config)");
    check(same_base(ck.base_fingerprint, fingerprint),
          "{}: trained on another base model than {}: only runs of one base can be averaged", path, run.checkpoint);
    check(other.lora_alpha == run.config.lora_alpha && other.rslora == run.config.rslora,
          "{}: LoRA alpha {} (rslora {}), {} has {} ({}): the adapters scale differently", path, other.lora_alpha,
          other.rslora, run.checkpoint, run.config.lora_alpha, run.config.rslora);
    check(ck.trainable.size() == trainable.size(), "{}: holds {} trainable tensors, {} holds {}", path,
          ck.trainable.size(), run.checkpoint, trainable.size());
    for (const auto& [name, t] : ck.trainable) {
      const auto it = sum.find(name);
      check(it != sum.end(), "{}: tensor '{}' is not in {}", path, name, run.checkpoint);
      check(it->second.sizes() == t.sizes(), "{}: tensor '{}' has shape [{}], {} has [{}]", path, name,
            fmt::join(t.sizes(), ","), run.checkpoint, fmt::join(it->second.sizes(), ","));
      it->second.add_(t.to(torch::kFloat64));
    }
  }
  torch::NoGradGuard no_grad;
  for (const auto& [name, t] : trainable) t.copy_(sum.at(name) / static_cast<double>(runs.size()));
}

// The tokenizer beside a merged checkpoint, as transformers' AutoTokenizer reads it: the run's
// SentencePiece model and a tokenizer_config.json naming Gemma's tokenizer and special tokens.
void write_tokenizer_files(const std::string& tokenizer, const std::string& dir) {
  namespace fs = std::filesystem;
  check(fs::is_regular_file(tokenizer), "{}: the run's tokenizer (data.tokenizer) is not a file", tokenizer);
  fs::copy_file(tokenizer, fs::path(dir) / "tokenizer.model", fs::copy_options::overwrite_existing);
  const nlohmann::json config = {{"tokenizer_class", "GemmaTokenizer"}, {"add_bos_token", true},
                                 {"add_eos_token", false},            {"bos_token", "<bos>"},
                                 {"eos_token", "<eos>"},              {"pad_token", "<pad>"},
                                 {"unk_token", "<unk>"},              {"padding_side", "right"}};
  std::ofstream(fs::path(dir) / "tokenizer_config.json") << config.dump(2) << "\n";
}

void export_merged(TrainedModel& run, const std::string& dir) {
  std::vector<std::string> labels;
  for (int64_t k = 0; k < run.config.num_labels; ++k) labels.emplace_back(label_name(static_cast<int>(k)));
  if (run.config.num_labels == 1) labels = {"reward"};  // a reward model's one output
  save_merged_model(*run.model, dir, torch::kBFloat16, labels);
  write_tokenizer_files(run.config.tokenizer, dir);
  fmt::print("merged      {}/model.safetensors (bf16, adapters merged) + config.json ({}) + tokenizer files\n", dir,
             run.model->config().is_gemma3() ? "Gemma3TextForSequenceClassification"
                                             : "Gemma2ForSequenceClassification");
}

int run_export(const ExportOptions& o) {
  if (!world().is_root()) return 0;
  check(o.checkpoint.empty() != o.average.empty(), "export: give either --checkpoint or --average RUN RUN...");
  check(o.average.empty() || o.average.size() >= 2, "export --average: needs at least two runs");
  auto run = load_trained(o.average.empty() ? o.checkpoint : o.average.front(), "cpu");
  if (!o.average.empty()) {
    average_into(run, o.average);
    fmt::print("average     of {} runs: {}\n", o.average.size(), fmt::join(o.average, ", "));
  }
  check(!o.out.empty() || !o.merged.empty(), "export: give --out DIR (PEFT adapter), --merged DIR, or both");
  if (!o.merged.empty()) export_merged(run, o.merged);
  if (o.out.empty()) return 0;
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
  auto* cmd = app.add_subcommand("export",
                                 "Write a checkpoint's adapters + head (or several runs' mean) as a PEFT LoRA adapter, "
                                 "or merged into a Hugging Face checkpoint");
  cmd->add_option("--checkpoint", o->checkpoint, "Run directory (newest checkpoint) or checkpoint .h5");
  cmd->add_option("--average", o->average,
                  "Runs (or checkpoints) of one base and LoRA shape whose adapters and heads are averaged into one "
                  "adapter (fold models)")
      ->expected(2, 1 << 20);
  cmd->add_option("--out", o->out, "Output directory of the PEFT adapter");
  cmd->add_option("--merged", o->merged,
                  "Also (or only) write a complete Hugging Face checkpoint here: bf16 weights with the adapters "
                  "merged, config.json, tokenizer files; transformers loads it without PEFT");
  cmd->add_flag("--with-base", o->with_base, "Also write the frozen base (dequantized, fp32) as base/model.safetensors");
  return [cmd, o]() { return cmd->parsed() ? run_export(*o) : -1; };
}

}  // namespace arena
