// NF4 on CUDA tensors: torch-facing wrappers around model/cuda/nf4_kernels.cu, on the current stream.
// In a build without CUDA these throw arena::Error (no CUDA tensor can exist there anyway).
#pragma once

#include <torch/types.h>

#include "model/quant/nf4.h"

namespace arena {

// Whether this build compiled the CUDA kernels.
bool nf4_cuda_compiled();

torch::Tensor nf4_cuda_dequantize(const Nf4Weight& w, torch::ScalarType dtype);  // flat [n]
torch::Tensor nf4_cuda_unnest_absmax(const Nf4Weight& w);                       // fp32 [blocks]
// Quantizes a CUDA weight on the GPU, bit-identical to nf4_quantize (blocksize 64 only).
Nf4Weight nf4_cuda_quantize(const torch::Tensor& weight, bool double_quant);

}  // namespace arena
