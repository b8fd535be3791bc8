// One training step captured as a CUDA graph, for bench_train_step --cuda-graph: how much of the
// step is launch gaps (docs/benchmarks.md: 52 ms of a 308 ms batch-4 step on the H100 at 502df20).
// A timing experiment, not a training loop: each replay repeats the captured kernels with their
// captured arguments, so the seeded LoRA dropout draws the same masks and the optimizer applies
// the same step count every time.
#pragma once

#include <functional>

namespace arena::bench {

// Runs `step` `warmup` times on a side stream (cuBLAS and the allocator settle there), captures
// one more run into a CUDA graph, and returns a function that replays it on that stream and
// waits for it. `step` must not synchronize with the host (no .item(), no host copies) and must
// keep its tensors' addresses: the graph replays into the memory it was captured with. Throws
// with torch's or CUDA's message when the capture fails; in a build without CUDA it always throws.
std::function<void()> capture_cuda_graph(const std::function<void()>& step, int warmup);

}  // namespace arena::bench
