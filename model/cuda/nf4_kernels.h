// Raw CUDA launchers for NF4 (no torch types, so nvcc never parses torch headers).
// All pointers are device pointers; work is queued on `stream` and not synchronized.
// Layouts are those of model/quant/nf4.h.
#pragma once

#include <cstdint>

namespace arena::cuda {

enum class OutType { kF32, kBF16, kF16 };

// out[i] = kNf4Code[code(i)] * absmax[i / blocksize], computed in fp32, stored as `type`.
void nf4_dequantize(const uint8_t* packed, const float* absmax, void* out, OutType type, int64_t n,
                    int64_t blocksize, void* stream);

// The same values as nf4_unnest_absmax followed by nf4_dequantize, in one pass: each thread reads
// 16 packed bytes (32 values) with one 16-byte load and writes them with 16-byte stores, taking
// its block's scale from the double-quantized statistics directly (same fp32 roundings as
// nf4_unnest_absmax, so bit-identical). `absmax` non-null: plain statistics (q, map and
// nested_absmax unused). Needs n % 32 == 0, blocksize % 32 == 0 and 16-byte aligned packed/out;
// returns false (nothing launched) otherwise.
bool nf4_dequantize_fused(const uint8_t* packed, const float* absmax, const uint8_t* q, const float* map,
                          const float* nested_absmax, float offset, void* out, OutType type, int64_t n,
                          int64_t blocksize, int64_t nested_blocksize, void* stream);

// absmax[b] = map[q[b]] * nested_absmax[b / nested_blocksize] + offset
void nf4_unnest_absmax(const uint8_t* q, const float* map, const float* nested_absmax, float offset, float* absmax,
                       int64_t blocks, int64_t nested_blocksize, void* stream);

// Blockwise NF4 quantization of fp32 `x` (n values, blocksize 64): packed codes and fp32 absmax,
// same rules as the CPU reference (reciprocal multiply, clamp, ties to the lower code).
void nf4_quantize(const float* x, uint8_t* packed, float* absmax, int64_t n, int64_t blocksize, void* stream);

// 8-bit blockwise quantization through bitsandbytes' 65536-entry code table (model/quant/quant8.h).
void quant8_quantize(const float* x, const uint8_t* lut, uint8_t* codes, float* absmax, int64_t n, int64_t blocksize,
                     void* stream);

// Returns the CUDA error string of the last launch, or nullptr when it succeeded.
const char* last_launch_error();

}  // namespace arena::cuda
