// ggml's tensor types (what GGUF files store) and their dequantization to fp32 on the CPU.
//
// A ggml type packs `block_size` consecutive elements of a row into `type_size` bytes; every
// tensor row (ne[0] elements) is a whole number of blocks, and blocks follow each other with no
// padding. The layouts, per block (all scales little-endian IEEE fp16 unless noted):
//   F32, F16, BF16  one element per block, 4 / 2 / 2 bytes
//   Q8_0   32 elements, 34 B:  d, int8 q[32]                          x = q·d
//   Q4_0   32 elements, 18 B:  d, 16 B nibbles                        x = d·(q − 8)
//   Q4_1   32 elements, 20 B:  d, m, 16 B nibbles                     x = d·q + m
//   Q5_0   32 elements, 22 B:  d, uint32 high bits, 16 B nibbles      x = d·(q − 16)
//   Q5_1   32 elements, 24 B:  d, m, uint32 high bits, 16 B nibbles   x = d·q + m
//     (nibbles: byte j holds element j in its low half and element j + 16 in its high half;
//      the 5th bit of element j is bit j of the uint32)
//   Q4_K  256 elements, 144 B: d, dmin, 12 B of eight 6-bit (scale, min) pairs, 128 B nibbles
//   Q5_K  256 elements, 176 B: as Q4_K plus 32 B of 5th bits, before the nibbles
//     (sub-block g of 32 elements: x = (d·scale_g)·q − (dmin·min_g))
//   Q6_K  256 elements, 210 B: 128 B low nibbles, 64 B 2-bit highs, int8 scale[16], d
//     (sub-block of 16: x = (d·scale)·(q − 32))
// The arithmetic is fp32 in exactly the order the `gguf` Python package (0.19) uses, so results
// are bit-identical to gguf.quants.dequantize; this needs the .cpp compiled without contracting
// a·b ± c into fused multiply-adds (the build sets -ffp-contract=off for it).
// No torch, no file format: model/io/gguf reads the files and calls in here.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace arena {

// ggml's type ids as GGUF files store them (ggml.h's ggml_type). Gaps are ids ggml removed.
enum class GgmlType : uint32_t {
  F32 = 0, F16 = 1, Q4_0 = 2, Q4_1 = 3, Q5_0 = 6, Q5_1 = 7, Q8_0 = 8, Q8_1 = 9,
  Q2_K = 10, Q3_K = 11, Q4_K = 12, Q5_K = 13, Q6_K = 14, Q8_K = 15,
  IQ2_XXS = 16, IQ2_XS = 17, IQ3_XXS = 18, IQ1_S = 19, IQ4_NL = 20, IQ3_S = 21, IQ2_S = 22,
  IQ4_XS = 23, I8 = 24, I16 = 25, I32 = 26, I64 = 27, F64 = 28, IQ1_M = 29, BF16 = 30,
  TQ1_0 = 34, TQ2_0 = 35, MXFP4 = 39, NVFP4 = 40, Q1_0 = 41,
};

struct GgmlTypeTraits {
  GgmlType type;
  const char* name;     // "Q4_K", as ggml and the gguf package spell it
  uint32_t block_size;  // elements per block
  uint32_t type_size;   // bytes per block
  bool dequantizable;   // gguf_dequantize() supports it
};

// The traits of type id `id`, or nullptr when ggml has no such type (unknown or removed id).
const GgmlTypeTraits* ggml_type_traits(uint32_t id);

// Same, for a type value; throws arena::Error naming the id when it is not a ggml type.
const GgmlTypeTraits& ggml_traits(GgmlType type);

// "Q4_K"; "unknown ggml type 99" for an id ggml does not have (never throws).
std::string ggml_type_name(GgmlType type);

// Bytes that `n_elements` of `type` occupy. Throws arena::Error (naming the type) when the type
// is unknown, when n_elements is not a multiple of its block size, or when the size overflows.
uint64_t ggml_n_bytes(GgmlType type, uint64_t n_elements);

// The types gguf_dequantize() supports: F32, F16, BF16, Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, Q4_K,
// Q5_K, Q6_K.
std::vector<GgmlType> gguf_dequantizable_types();

// Decodes `n_elements` values of `type` from `data` (ggml_n_bytes(type, n_elements) bytes, no
// alignment needed) into `out` (n_elements floats, not overlapping `data`). Bit-identical to
// gguf.quants.dequantize, NaN payloads of F32/F16/BF16 included. Throws arena::Error naming the
// type when it is unsupported (Q2_K, IQ*, ...) or n_elements is not a multiple of its block size;
// the caller adds which tensor it was.
void gguf_dequantize(GgmlType type, const uint8_t* data, size_t n_elements, float* out);

// IEEE binary16 bits → fp32, exact (subnormals normalized, Inf kept, NaN payload kept unquieted).
float fp16_to_fp32(uint16_t bits);

}  // namespace arena
