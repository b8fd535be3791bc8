// Times the C++ Gemma-2 classifier: forward (no grad) and forward+backward, median of N runs.
// Not a test: bench/cpu_vs_transformers.sh runs it beside the transformers peer and prints both.
#include <torch/torch.h>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <string>

#include "bench/median_time.h"
#include "model/gemma/classifier.h"
#include "model/gemma/config.h"

namespace {

struct Options {
  std::string config;  // config.json; the peer script writes the one both sides use
  int64_t batch = 4, seq = 256, steps = 10, warmup = 2, threads = 2;
  std::string dtype = "f32";
  bool recompute = false;
};

}  // namespace

int main(int argc, char** argv) {
  Options o;
  CLI::App app{"Time the C++ Gemma-2 classifier on CPU (forward, forward+backward)"};
  app.add_option("--config", o.config, "config.json of the model to build (random weights)")->required();
  app.add_option("--batch", o.batch, "Rows per step");
  app.add_option("--seq", o.seq, "Tokens per row");
  app.add_option("--steps", o.steps, "Timed repetitions (median reported)");
  app.add_option("--warmup", o.warmup, "Untimed repetitions first");
  app.add_option("--threads", o.threads, "torch intra-op threads");
  app.add_option("--dtype", o.dtype, "f32 or bf16")->check(CLI::IsMember({"f32", "bf16"}));
  app.add_flag("--recompute", o.recompute, "Recompute layer activations in backward");
  CLI11_PARSE(app, argc, argv);

  torch::set_num_threads(static_cast<int>(o.threads));
  torch::manual_seed(0);
  const auto config = arena::load_gemma_config(o.config);
  const auto dtype = o.dtype == "bf16" ? torch::kBFloat16 : torch::kFloat32;
  arena::GemmaClassifier model(config, torch::TensorOptions().dtype(dtype));
  model->model->set_recompute(o.recompute);
  const auto ids = torch::randint(1, config.vocab_size, {o.batch, o.seq}, torch::kInt64);
  const auto mask = torch::ones_like(ids);
  const auto labels = torch::randint(0, config.num_labels, {o.batch}, torch::kInt64);

  const double fwd = arena::bench::median_ms(o.warmup, o.steps, /*synchronize=*/false, [&] {
    torch::NoGradGuard no_grad;
    model->forward(ids, mask);
  });
  const double fwd_bwd = arena::bench::median_ms(o.warmup, o.steps, /*synchronize=*/false, [&] {
    model->zero_grad();
    arena::classification_loss(model->forward(ids, mask), labels).backward();
  });
  const nlohmann::json out = {{"impl", "arena"}, {"forward_ms", fwd}, {"forward_backward_ms", fwd_bwd},
                              {"batch", o.batch}, {"seq", o.seq}, {"threads", o.threads}, {"dtype", o.dtype},
                              {"tokens_per_s_train", 1000.0 * static_cast<double>(o.batch * o.seq) / fwd_bwd}};
  fmt::print("{}\n", out.dump());
  return 0;
}
