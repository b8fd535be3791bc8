#include <torch/torch.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <memory>
#include <string>

#include "common/error.h"
#include "launch/commands.h"
#include "model/gemma/classifier.h"
#include "model/gemma/config.h"
#include "model/io/loader.h"
#include "model/quant/nf4.h"

namespace arena {
namespace {

struct InspectOptions {
  std::string model;  // a checkpoint directory, config.json or .gguf; empty = the built-in gemma-2-2b shape
  int64_t labels = 2;
  bool json = false;
};

int run_inspect(const InspectOptions& o) {
  const auto config = o.model.empty() ? gemma2_2b_config(o.labels) : load_model_config(o.model);
  auto c = config;
  c.num_labels = o.labels;
  // Meta tensors carry shapes only: the real 2.6B model is inspected without allocating it.
  GemmaClassifier model(c, torch::TensorOptions().device(torch::kMeta).dtype(torch::kBFloat16));
  const int64_t embed = model->model->embed_tokens->weight.numel();
  int64_t linear = 0, norms = 0, nf4_bytes = 0, nf4_plain_bytes = 0;
  for (const auto& layer : model->model->layers) {
    for (const auto& p : layer->named_parameters()) {
      const bool is_norm = p.key().find("norm") != std::string::npos;
      (is_norm ? norms : linear) += p.value().numel();
      if (!is_norm) {  // each projection is quantized on its own (its own blocks and nested stats)
        nf4_bytes += nf4_storage_bytes(p.value().numel(), /*double_quant=*/true);
        nf4_plain_bytes += nf4_storage_bytes(p.value().numel(), /*double_quant=*/false);
      }
    }
  }
  norms += model->model->norm->weight.numel();
  const int64_t base = parameter_count(*model->model);
  const int64_t head = parameter_count(*model->score);
  const std::string source = o.model.empty() ? "built-in google/gemma-2-2b shape" : o.model;

  if (o.json) {
    nlohmann::json j = {{"source", source},
                        {"model_type", c.model_type},
                        {"layers", c.num_hidden_layers},
                        {"hidden_size", c.hidden_size},
                        {"parameters", {{"base", base}, {"embedding", embed}, {"linear", linear},
                                        {"norms", norms}, {"head", head}}},
                        {"bytes_bf16", {{"base", base * 2}, {"head", head * 2}}},
                        {"bytes_qlora", {{"linear_nf4_double_quant", nf4_bytes},
                                         {"linear_nf4", nf4_plain_bytes},
                                         {"embedding_bf16", embed * 2},
                                         {"norms_bf16", norms * 2},
                                         {"base", nf4_bytes + (embed + norms) * 2}}}};
    fmt::print("{}\n", j.dump());
    return 0;
  }
  fmt::print("model           {}\n", source);
  fmt::print("architecture    {}: {} layers, hidden {}, heads {} (kv {}), head_dim {}, mlp {}, vocab {}\n",
             c.model_type, c.num_hidden_layers, c.hidden_size, c.num_attention_heads, c.num_key_value_heads, c.head_dim,
             c.intermediate_size, c.vocab_size);
  fmt::print("attention       soft-cap {}, q/k norms {}, 1/sqrt({}) scaling, window {} on {} sliding layers\n",
             c.attn_logit_softcapping, c.qk_norm ? "yes" : "no", c.query_pre_attn_scalar, c.sliding_window,
             std::count(c.sliding_layers.begin(), c.sliding_layers.end(), true));
  fmt::print("rope            base {:g} on full layers{}, {:g} on sliding layers\n", c.rope_theta,
             c.rope_scaling_factor != 1.0 ? fmt::format(" (linear scaling {:g})", c.rope_scaling_factor) : "",
             c.rope_local_base_freq);
  fmt::print("parameters      {:>15L} base (embedding {:L}, linear {:L}, norms {:L})\n", base, embed, linear, norms);
  fmt::print("                {:>15L} score head ({} labels)\n", head, c.num_labels);
  fmt::print("bf16 bytes      {:>15L} base, {:.3f} GB\n", base * 2, base * 2 / 1e9);
  fmt::print("QLoRA bytes     {:>15L} linear NF4 + double quant ({:.3f} GB, {:.3f} bits/param; {:L} without)\n",
             nf4_bytes, nf4_bytes / 1e9, 8.0 * nf4_bytes / linear, nf4_plain_bytes);
  fmt::print("                {:>15L} embedding bf16, {:L} norms bf16\n", embed * 2, norms * 2);
  fmt::print("                {:>15L} quantized base in total, {:.3f} GB\n", nf4_bytes + (embed + norms) * 2,
             (nf4_bytes + (embed + norms) * 2) / 1e9);
  return 0;
}

}  // namespace

Command add_inspect_command(CLI::App& app) {
  auto opts = std::make_shared<InspectOptions>();
  auto* cmd = app.add_subcommand("inspect", "Print a model's architecture, exact parameter counts and QLoRA memory (no weights read)");
  cmd->add_option("--model", opts->model, "Checkpoint directory, config.json or .gguf (default: the gemma-2-2b shape)");
  cmd->add_option("--labels", opts->labels, "Width of the score head")->check(CLI::PositiveNumber);
  cmd->add_flag("--json", opts->json, "Print one JSON object instead of text");
  return [cmd, opts]() { return cmd->parsed() ? run_inspect(*opts) : -1; };
}

}  // namespace arena
