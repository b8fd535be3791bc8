// `arena perplexity`: next-token loss of a pretrained Gemma on plain texts, the check that real
// weights load right (a real model's loss on prose is far below its loss on the same words
// shuffled, and equals transformers' loss on the same file and token ids).
#include <torch/torch.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <chrono>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>

#include "common/error.h"
#include "data/tokenizer.h"
#include "launch/commands.h"
#include "launch/heap_policy.h"
#include "launch/peak_memory.h"
#include "launch/vocab_check.h"
#include "model/gemma/lm_loss.h"
#include "model/io/gguf.h"
#include "model/io/gguf_loader.h"
#include "model/io/loader.h"

namespace arena {
namespace {

struct PerplexityOptions {
  std::string model, tokenizer, dtype = "f32";
  std::vector<std::string> texts;
  int64_t max_tokens = 512;
  int64_t logit_chunk = 256;  // positions whose [vocab] logits exist at once
  bool nf4 = false, json = false;
};

using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

double peak_rss_mib() { return peak_memory(c10::Device(c10::kCPU)).rss_mib; }

std::string read_text(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  check(in.good(), "{}: cannot open text file", path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// --tokenizer, else the checkpoint directory's tokenizer.model.
std::string tokenizer_path(const PerplexityOptions& o) {
  if (!o.tokenizer.empty()) return o.tokenizer;
  namespace fs = std::filesystem;
  const fs::path dir = is_gguf_path(o.model) ? fs::path(o.model).parent_path() : fs::path(o.model);
  const auto candidate = dir / "tokenizer.model";
  check(fs::exists(candidate), "{}: no tokenizer.model beside the model; pass --tokenizer (for Gemma-3: "
        "../shared/gemma/gemma3/tokenizer.model)", o.model);
  return candidate.string();
}

int run_perplexity(const PerplexityOptions& o) {
  const auto t0 = Clock::now();
  const Tokenizer tok(tokenizer_path(o));
  const auto dtype = o.dtype == "bf16" ? torch::kBFloat16 : torch::kFloat32;
  // A GGUF carries its vocabulary: refuse a tokenizer of another model before loading weights.
  if (is_gguf_path(o.model)) check_vocabulary(gguf_vocabulary(open_gguf_model(o.model)), o.model, tok);
  keep_freed_memory_in_heap();  // a CPU process of forward passes only
  LoadReport report;
  auto model = load_gemma_classifier(o.model, dtype, torch::kCPU, 0, &report);
  // Larger Gemma-3 checkpoints pad the embedding past the tokenizer (262,208 rows, 262,144 pieces).
  check(tok.vocab_size() <= model->config().vocab_size, "{}: embedding has {} rows, tokenizer {} has {} pieces",
        o.model, model->config().vocab_size, tok.path(), tok.vocab_size());
  if (o.nf4) {  // the training recipe's base: every decoder projection re-quantized to NF4
    for (auto& layer : model->model->layers)
      for (auto& m : layer->modules(/*include_self=*/false))
        if (auto* linear = m->as<LinearImpl>()) linear->quantize(/*double_quant=*/true);
  }
  model->eval();
  const double load_s = seconds_since(t0);
  const auto& c = model->config();
  if (!o.json) {
    fmt::print("model       {} ({}, {} layers, hidden {}, vocab {}; {} tensors in {:.1f} s{})\n", o.model, c.model_type,
               c.num_hidden_layers, c.hidden_size, c.vocab_size, report.loaded, load_s,
               o.nf4 ? ", projections re-quantized to NF4" : ", as stored");
  }

  int64_t total_tokens = 0;
  double total_nll = 0, total_s = 0;
  for (const auto& path : o.texts) {
    auto ids = tok.encode(read_text(path));
    ids.insert(ids.begin(), tok.bos_id());  // as transformers' Gemma tokenizer adds it
    if (static_cast<int64_t>(ids.size()) > o.max_tokens) ids.resize(static_cast<size_t>(o.max_tokens));
    check(ids.size() >= 2, "{}: no token to predict (the text is empty)", path);
    std::vector<int64_t> ids64(ids.begin(), ids.end());
    const auto t = Clock::now();
    const auto loss = next_token_loss(*model->model, torch::tensor(ids64).unsqueeze(0), o.logit_chunk);
    const double s = seconds_since(t);
    total_tokens += loss.tokens;
    total_nll += loss.sum_nll;
    total_s += s;
    const double rate = static_cast<double>(ids.size()) / s;
    if (o.json) {
      fmt::print("{}\n", nlohmann::json{{"text", path}, {"tokens", loss.tokens}, {"mean_nll", loss.mean()},
                                        {"perplexity", std::exp(loss.mean())}, {"tokens_per_s", rate}}
                             .dump());
    } else {
      fmt::print("text        {}: {} tokens, mean nll {:.5f}, perplexity {:.3f} ({:.0f} tok/s)\n", path, loss.tokens,
                 loss.mean(), std::exp(loss.mean()), rate);
    }
  }
  const double mean = total_tokens > 0 ? total_nll / static_cast<double>(total_tokens) : 0.0;
  if (o.json) {
    fmt::print("{}\n", nlohmann::json{{"tokens", total_tokens}, {"mean_nll", mean}, {"perplexity", std::exp(mean)},
                                      {"load_s", load_s}, {"forward_s", total_s}, {"peak_rss_mib", peak_rss_mib()},
                                      {"nf4", o.nf4}, {"dtype", o.dtype}}
                           .dump());
  } else {
    fmt::print("overall     {} tokens, mean nll {:.5f}, perplexity {:.3f}; peak memory {:.0f} MiB\n", total_tokens,
               mean, std::exp(mean), peak_rss_mib());
  }
  return 0;
}

}  // namespace

Command add_perplexity_command(CLI::App& app) {
  auto o = std::make_shared<PerplexityOptions>();
  auto* cmd = app.add_subcommand(
      "perplexity", "Next-token loss of a pretrained Gemma (GGUF file or HF directory) on text files, on the CPU");
  cmd->add_option("--model", o->model, "A .gguf file or a Hugging Face checkpoint directory")->required();
  cmd->add_option("--text", o->texts, "Text file (repeatable): each file is one text, <bos> first")->required();
  cmd->add_option("--tokenizer", o->tokenizer, "SentencePiece tokenizer.model (default: the one beside the model)");
  cmd->add_option("--max-tokens", o->max_tokens, "Tokens per text, <bos> included; longer texts are cut")
      ->check(CLI::Range(int64_t{2}, int64_t{1} << 20));
  cmd->add_option("--logit-chunk", o->logit_chunk,
                  "Positions scored per LM-head matmul (memory: chunk x vocab x 4 bytes; larger reads the table "
                  "fewer times)")
      ->check(CLI::PositiveNumber);
  cmd->add_option("--dtype", o->dtype, "Compute dtype")->check(CLI::IsMember({"f32", "bf16"}));
  cmd->add_flag("--nf4", o->nf4, "Re-quantize every decoder projection to NF4 first, as training does");
  cmd->add_flag("--json", o->json, "One JSON object per text, then one with tokens, mean_nll and perplexity");
  return [cmd, o]() { return cmd->parsed() ? run_perplexity(*o) : -1; };
}

}  // namespace arena
