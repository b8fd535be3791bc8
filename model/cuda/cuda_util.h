// What the torch-facing CUDA wrappers (nf4_cuda, fused_ops, softcap_attention) share: the CUDA
// error helper, the kernels' storage type of a torch dtype, and the current stream. Only built
// with CUDA (ARENA_WITH_CUDA).
#pragma once

#include <torch/types.h>

#include "model/cuda/nf4_kernels.h"  // cuda::OutType

namespace arena {

// The CUDA error helper: throws arena::Error naming `kernel` with CUDA's message when the last
// launch failed.
void check_cuda_launch(const char* kernel);

// The kernels' element type for `t` (fp32, bf16, fp16); `what` names the caller in the error.
cuda::OutType cuda_storage_type(torch::ScalarType t, const char* what);

// The current CUDA stream of the current device, for kernel launches.
void* current_cuda_stream();

}  // namespace arena
