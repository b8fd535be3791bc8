#include "bench/cuda_graph_step.h"

#include <memory>
#include <stdexcept>

#ifdef ARENA_WITH_CUDA
#include <ATen/cuda/CUDAGraph.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#endif

namespace arena::bench {

#ifdef ARENA_WITH_CUDA

std::function<void()> capture_cuda_graph(const std::function<void()>& step, int warmup) {
  const auto side = c10::cuda::getStreamFromPool();
  auto graph = std::make_shared<at::cuda::CUDAGraph>();
  {
    c10::cuda::getCurrentCUDAStream().synchronize();
    c10::cuda::CUDAStreamGuard guard(side);
    for (int i = 0; i < warmup; ++i) step();
    side.synchronize();
    graph->capture_begin();
    step();
    graph->capture_end();
  }
  side.synchronize();
  return [graph, side] {
    c10::cuda::CUDAStreamGuard guard(side);
    graph->replay();
    side.synchronize();
  };
}

#else

std::function<void()> capture_cuda_graph(const std::function<void()>&, int) {
  throw std::runtime_error("CUDA graphs need a CUDA build (ARENA_WITH_CUDA)");
}

#endif

}  // namespace arena::bench
