// NF4 4-bit weights in bitsandbytes' exact layout, so bnb-serialized checkpoints load as they are
// and what we quantize is bit-identical to what bitsandbytes produces.
//
// Layout of a weight W with n elements (row-major flattening of W):
//   packed  uint8 [ceil(n/2)]      two codes per byte, element 2k in the HIGH nibble, 2k+1 low
//   absmax  fp32 [ceil(n/64)]      per 64-element block (blocksize 64)
//   with double quantization the absmax vector is stored instead as
//     qabsmax       uint8 [blocks]   8-bit codes of (absmax - offset) in blocks of 256
//     nested_absmax fp32  [ceil(blocks/256)]
//     nested_map    fp32  [256]      bnb's dynamic map
//     offset        fp32             mean of the absmax vector
//   value(i) = kNf4Code[code(i)] * absmax[i / 64]
// Storage: 4 bits + 32/64 bits (plain) or 4 + 8/64 + 32/(64*256) bits (double quant) per value.
#pragma once

#include <torch/types.h>

#include <cstdint>
#include <string>
#include <vector>

namespace arena {

// The 16 NF4 values, ascending (bitsandbytes' get_4bit_type("nf4")).
extern const float kNf4Code[16];

struct Nf4Weight {
  std::vector<int64_t> shape;  // logical shape of W, e.g. [out, in]
  int64_t blocksize = 64;
  torch::ScalarType dtype = torch::kBFloat16;  // dtype W had (and dequantizes to by default)
  torch::Tensor packed;        // uint8 [ceil(n/2)]
  bool nested = false;         // double quantization
  torch::Tensor absmax;        // fp32 [blocks] when !nested
  torch::Tensor qabsmax;       // uint8 [blocks] when nested
  torch::Tensor nested_absmax; // fp32 [ceil(blocks/256)]
  torch::Tensor nested_map;    // fp32 [256]
  int64_t nested_blocksize = 256;
  float offset = 0.0f;

  int64_t numel() const;
  int64_t blocks() const { return (numel() + blocksize - 1) / blocksize; }
  // Bytes of the stored representation (packed + statistics), what sits in device memory.
  int64_t storage_bytes() const;
  Nf4Weight to(torch::Device device) const;
  torch::Device device() const { return packed.device(); }
};

// Quantizes W (f32/bf16/f16, any device; computed on the CPU) with bitsandbytes' rules: per block
// absmax, x * (1/absmax) clamped to [-1, 1], nearest NF4 code (a value exactly between two codes
// takes the lower one). double_quant: the absmax vector minus its mean, 8-bit blockwise (256).
Nf4Weight nf4_quantize(const torch::Tensor& weight, bool double_quant, int64_t blocksize = 64);

// fp32 absmax per block (un-nesting double quantization: map[q]*nested_absmax + offset).
torch::Tensor nf4_absmax(const Nf4Weight& w);

// W reconstructed in `dtype` (kNf4Code[code] * absmax computed in fp32, then cast), on the
// weight's device: the CUDA kernel on GPU, the CPU reference otherwise.
torch::Tensor nf4_dequantize(const Nf4Weight& w, torch::ScalarType dtype);

// The CPU reference dequantizer (also what the CUDA kernel is tested against).
torch::Tensor nf4_dequantize_cpu(const torch::Tensor& packed, const torch::Tensor& absmax, int64_t numel,
                                 int64_t blocksize, torch::ScalarType dtype);

// Exact bytes of a shape quantized this way, without quantizing anything.
int64_t nf4_storage_bytes(int64_t numel, bool double_quant, int64_t blocksize = 64);

}  // namespace arena
