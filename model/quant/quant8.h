// bitsandbytes' 8-bit blockwise quantization with its signed "dynamic" map: the second level of
// NF4 double quantization (the per-block absmax values, minus their mean, in blocks of 256).
#pragma once

#include <torch/types.h>

#include <cstdint>
#include <vector>

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

// How bitsandbytes' CPU quantizer (0.50) picks a code: not an exact nearest-value search but a
// 65536-entry table over [-1, 1]. Entry i holds the nearest map index for -1 + 2i/65535, and a
// value v uses entry trunc((v + 1) · 0.5 · 65535 + 0.5), all in fp32. Near the middle between two
// codes this can pick the farther one; reproducing the table reproduces bnb's bytes exactly.
struct Quant8Lut {
  static constexpr int kSize = 65536;
  explicit Quant8Lut(const float* map);  // map: 256 ascending values
  static uint32_t index(float v);        // v clamped to [-1, 1]
  uint8_t code(float v) const { return table[index(v)]; }
  std::vector<uint8_t> table;
};

// CPU reference, byte for byte what bitsandbytes' CPU quantize_blockwise writes: per block,
// absmax = max|x| (an all-zero block gets codes 0), v = x · (1/absmax), code = Quant8Lut(v).
Quant8 quant8_quantize(const torch::Tensor& x, int64_t blocksize = 256);

// map[codes] * absmax[block], fp32 [n].
torch::Tensor quant8_dequantize(const Quant8& q);

}  // namespace arena
