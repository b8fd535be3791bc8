// bitsandbytes' 8-bit blockwise quantization with its signed "dynamic" map: the second level of
// NF4 double quantization (the per-block absmax values, minus their mean, in blocks of 256).
#pragma once

#include <torch/types.h>

#include <cstdint>

namespace arena {

// bnb's create_dynamic_map(signed=True, max_exponent_bits=7, total_bits=8): 256 ascending fp32
// values in [-0.99297, 1], built with the same torch ops so every value is bit-identical.
torch::Tensor dynamic_map_8bit();

struct Quant8 {
  torch::Tensor codes;   // uint8 [n], indices into `map`
  torch::Tensor absmax;  // fp32 [ceil(n / blocksize)]
  torch::Tensor map;     // fp32 [256]
  int64_t blocksize = 256;
};

// CPU reference: per block, absmax = max|x|, then each x/absmax goes to the nearest map value
// (ties to the lower index), as bitsandbytes' CPU quantize_blockwise. x: fp32, contiguous.
Quant8 quant8_quantize(const torch::Tensor& x, int64_t blocksize = 256);

// map[codes] * absmax[block], fp32 [n].
torch::Tensor quant8_dequantize(const Quant8& q);

}  // namespace arena
