// NF4 dequantize throughput in GB/s (bytes read + written), next to a plain copy of the output
// size on the same device as the practical memory-bandwidth bound. CPU always; CUDA when present.
#include <torch/torch.h>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "bench/median_time.h"
#include "model/quant/nf4.h"

namespace {

void run(torch::Device device, int64_t rows, int64_t cols, int reps) {
  const auto w = (torch::randn({rows, cols}) * 0.02).to(torch::kBFloat16);
  const auto q = arena::nf4_quantize(w, /*double_quant=*/true).to(device);
  const double out_bytes = static_cast<double>(w.numel()) * 2;  // bf16 output
  const double moved = out_bytes + static_cast<double>(q.storage_bytes());
  const bool sync = device.is_cuda();
  // Seconds, the first call untimed.
  const double t = arena::bench::median_ms(1, reps, sync, [&] { arena::nf4_dequantize(q, torch::kBFloat16); }) / 1e3;
  const auto dense = torch::empty({rows, cols}, torch::TensorOptions().dtype(torch::kBFloat16).device(device));
  const double tc = arena::bench::median_ms(1, reps, sync, [&] { dense.clone(); }) / 1e3;
  fmt::print("{:<5} [{} x {}] bf16: dequantize {:.3f} ms = {:.1f} GB/s; copy of the output size {:.1f} GB/s "
             "(dequantize at {:.0f}% of copy)\n",
             device.str(), rows, cols, t * 1e3, moved / t / 1e9, 2 * out_bytes / tc / 1e9,
             100.0 * (moved / t) / (2 * out_bytes / tc));
}

}  // namespace

int main(int argc, char** argv) {
  int64_t rows = 9216, cols = 2304;  // Gemma-2-2B gate_proj
  int reps = 20, threads = 2;
  CLI::App app{"NF4 dequantize throughput (GB/s) against a same-size copy"};
  app.add_option("--rows", rows, "Weight rows");
  app.add_option("--cols", cols, "Weight columns");
  app.add_option("--reps", reps, "Timed repetitions (median)");
  app.add_option("--threads", threads, "CPU threads");
  CLI11_PARSE(app, argc, argv);
  torch::set_num_threads(threads);
  run(torch::kCPU, rows, cols, reps);
  if (torch::cuda::is_available()) run(torch::kCUDA, rows, cols, reps * 10);
  return 0;
}
