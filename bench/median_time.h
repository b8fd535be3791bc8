// The median wall time of a repeated call, shared by the benchmarks.
#pragma once

#include <torch/cuda.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <vector>

namespace arena::bench {

// Milliseconds: the median of `reps` timed calls of fn after `warmup` untimed ones. With
// `synchronize`, each timed call is bracketed by torch::cuda::synchronize() so that the
// asynchronous CUDA work it queued is inside the interval.
template <typename F>
double median_ms(int64_t warmup, int64_t reps, bool synchronize, F&& fn) {
  for (int64_t i = 0; i < warmup; ++i) fn();
  std::vector<double> ms;
  for (int64_t i = 0; i < reps; ++i) {
    if (synchronize) torch::cuda::synchronize();
    const auto t0 = std::chrono::steady_clock::now();
    fn();
    if (synchronize) torch::cuda::synchronize();
    ms.push_back(std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count());
  }
  std::nth_element(ms.begin(), ms.begin() + ms.size() / 2, ms.end());
  return ms[ms.size() / 2];
}

}  // namespace arena::bench
