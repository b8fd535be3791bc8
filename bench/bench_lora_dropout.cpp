// LoRA's down-projection with its seeded input dropout (model/lora/lora_dropout.h), each of its
// three parts alone at one projection's shape: the forward dropout(x)·Aᵀ, the input gradient
// dropout(g·A) + add, and the weight gradient gᵀ·dropout(x). Times the fused loops (CUDA kernels,
// or model/lora/lora_cpu_kernels.h on the CPU) against the chain (set_fused_elementwise(false): ATen's
// GEMM, the dropout pass into a fresh tensor, ATen's add) and prints the median of each.
#include <torch/torch.h>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <string>

#include "bench/median_time.h"
#include "model/lora/lora_dropout.h"
#include "model/nn/fused_ops.h"

int main(int argc, char** argv) {
  int64_t tokens = 4096, in = 640, rank = 8;
  int reps = 20, threads = 1;
  double p = 0.05;
  std::string dtype = "bf16", device = "cpu";
  CLI::App app{"LoRA dropout-down parts: fused loops against ATen's chain"};
  app.add_option("--tokens", tokens, "rows of x (batch × sequence)");
  app.add_option("--in", in, "the projection's input width");
  app.add_option("--rank", rank, "LoRA rank r");
  app.add_option("--p", p, "dropout probability");
  app.add_option("--dtype", dtype, "f32 or bf16")->check(CLI::IsMember({"f32", "bf16"}));
  app.add_option("--device", device, "cpu or cuda")->check(CLI::IsMember({"cpu", "cuda"}));
  app.add_option("--reps", reps, "timed calls per variant (the median is printed)");
  app.add_option("--threads", threads, "CPU threads");
  CLI11_PARSE(app, argc, argv);
  torch::set_num_threads(threads);

  const auto opts = torch::TensorOptions()
                        .dtype(dtype == "bf16" ? torch::kBFloat16 : torch::kFloat32)
                        .device(device == "cuda" ? torch::kCUDA : torch::kCPU);
  torch::manual_seed(0);
  const auto x = torch::randn({tokens, in}, opts);
  const auto a = torch::randn({rank, in}, opts) * 0.05;
  const auto g = torch::randn({tokens, rank}, opts);
  const auto add = torch::randn({tokens, in}, opts);
  const uint64_t seed = 1234;
  const bool sync = device == "cuda";

  fmt::print("LoRA dropout-down, {} {} x {} r={} p={} threads {}: median of {} (ms)\n", device, dtype, tokens, in,
             rank, p, threads, reps);
  fmt::print("{:<28} {:>10} {:>10} {:>8}\n", "part", "fused", "chain", "speed");
  const auto row = [&](const char* name, auto&& fn) {
    arena::set_fused_elementwise(true);
    const double fused = arena::bench::median_ms(2, reps, sync, fn);
    arena::set_fused_elementwise(false);
    const double chain = arena::bench::median_ms(2, reps, sync, fn);
    arena::set_fused_elementwise(true);
    fmt::print("{:<28} {:>10.3f} {:>10.3f} {:>7.2f}x\n", name, fused, chain, chain / fused);
  };
  row("forward", [&] { return arena::dropout_linear(x, a, seed, p); });
  row("input gradient", [&] { return arena::dropout_linear_input_grad(g, a, seed, p, torch::Tensor()); });
  row("input gradient + add", [&] { return arena::dropout_linear_input_grad(g, a, seed, p, add); });
  row("weight gradient", [&] { return arena::dropout_linear_weight_grad(g, x, torch::Tensor(), seed, p); });
  return 0;
}
