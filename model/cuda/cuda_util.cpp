#include "model/cuda/cuda_util.h"

#include <c10/cuda/CUDAStream.h>

#include "common/error.h"

namespace arena {

void check_cuda_launch(const char* kernel) {
  if (const char* e = cuda::last_launch_error()) throw Error(fmt::format("CUDA kernel {} failed: {}", kernel, e));
}

cuda::OutType cuda_storage_type(torch::ScalarType t, const char* what) {
  switch (t) {
    case torch::kFloat32: return cuda::OutType::kF32;
    case torch::kBFloat16: return cuda::OutType::kBF16;
    case torch::kFloat16: return cuda::OutType::kF16;
    default: throw Error(fmt::format("{}: unsupported dtype {}", what, c10::toString(t)));
  }
}

void* current_cuda_stream() { return c10::cuda::getCurrentCUDAStream().stream(); }

}  // namespace arena
