#include "model/quant/gguf_quants.h"

#include <cstring>
#include <limits>

#include "common/error.h"

namespace arena {
namespace {

constexpr uint32_t kQK = 256;  // elements per K-quant super-block

// ggml's full type table (block size, bytes per block), so a file holding a type we cannot
// dequantize still opens and sizes its tensors correctly.
constexpr GgmlTypeTraits kTraits[] = {
    {GgmlType::F32, "F32", 1, 4, true},
    {GgmlType::F16, "F16", 1, 2, true},
    {GgmlType::Q4_0, "Q4_0", 32, 2 + 16, true},
    {GgmlType::Q4_1, "Q4_1", 32, 2 + 2 + 16, true},
    {GgmlType::Q5_0, "Q5_0", 32, 2 + 4 + 16, true},
    {GgmlType::Q5_1, "Q5_1", 32, 2 + 2 + 4 + 16, true},
    {GgmlType::Q8_0, "Q8_0", 32, 2 + 32, true},
    {GgmlType::Q8_1, "Q8_1", 32, 4 + 4 + 32, false},
    {GgmlType::Q2_K, "Q2_K", kQK, 2 + 2 + kQK / 16 + kQK / 4, false},
    {GgmlType::Q3_K, "Q3_K", kQK, 2 + kQK / 4 + kQK / 8 + 12, false},
    {GgmlType::Q4_K, "Q4_K", kQK, 2 + 2 + kQK / 2 + 12, true},
    {GgmlType::Q5_K, "Q5_K", kQK, 2 + 2 + kQK / 2 + kQK / 8 + 12, true},
    {GgmlType::Q6_K, "Q6_K", kQK, 2 + kQK / 2 + kQK / 4 + kQK / 16, true},
    {GgmlType::Q8_K, "Q8_K", kQK, 4 + kQK + kQK / 8, false},
    {GgmlType::IQ2_XXS, "IQ2_XXS", kQK, 2 + kQK / 4, false},
    {GgmlType::IQ2_XS, "IQ2_XS", kQK, 2 + kQK / 4 + kQK / 32, false},
    {GgmlType::IQ3_XXS, "IQ3_XXS", kQK, 2 + kQK / 4 + kQK / 8, false},
    {GgmlType::IQ1_S, "IQ1_S", kQK, 2 + kQK / 8 + kQK / 16, false},
    {GgmlType::IQ4_NL, "IQ4_NL", 32, 2 + 16, false},
    {GgmlType::IQ3_S, "IQ3_S", kQK, 2 + kQK / 4 + kQK / 8 + kQK / 32 + 4, false},
    {GgmlType::IQ2_S, "IQ2_S", kQK, 2 + kQK / 4 + kQK / 16, false},
    {GgmlType::IQ4_XS, "IQ4_XS", kQK, 2 + 2 + kQK / 2 + kQK / 64, false},
    {GgmlType::I8, "I8", 1, 1, false},
    {GgmlType::I16, "I16", 1, 2, false},
    {GgmlType::I32, "I32", 1, 4, false},
    {GgmlType::I64, "I64", 1, 8, false},
    {GgmlType::F64, "F64", 1, 8, false},
    {GgmlType::IQ1_M, "IQ1_M", kQK, kQK / 8 + kQK / 16 + kQK / 32, false},
    {GgmlType::BF16, "BF16", 1, 2, true},
    {GgmlType::TQ1_0, "TQ1_0", kQK, 2 + 4 * 13, false},
    {GgmlType::TQ2_0, "TQ2_0", kQK, 2 + 64, false},
    {GgmlType::MXFP4, "MXFP4", 32, 1 + 16, false},
    {GgmlType::NVFP4, "NVFP4", 64, 4 + 32, false},
    {GgmlType::Q1_0, "Q1_0", 128, 2 + 16, false},
};

// Little-endian loads through memcpy: block fields sit at odd offsets (a Q8_0 block is 34 bytes).
uint16_t load_u16(const uint8_t* p) {
  return static_cast<uint16_t>(p[0] | (p[1] << 8));
}

uint32_t load_u32(const uint8_t* p) {
  return static_cast<uint32_t>(p[0]) | (static_cast<uint32_t>(p[1]) << 8) |
         (static_cast<uint32_t>(p[2]) << 16) | (static_cast<uint32_t>(p[3]) << 24);
}

float bits_to_float(uint32_t bits) {
  float f;
  std::memcpy(&f, &bits, sizeof f);
  return f;
}

float load_fp16(const uint8_t* p) { return fp16_to_fp32(load_u16(p)); }

// Each block decoder writes block_size floats. Products and sums are spelled as separate fp32
// operations in the gguf package's order; with -ffp-contract=off each one rounds on its own.

void block_q8_0(const uint8_t* b, float* y) {
  const float d = load_fp16(b);
  for (int j = 0; j < 32; ++j) y[j] = static_cast<float>(static_cast<int8_t>(b[2 + j])) * d;
}

void block_q4_0(const uint8_t* b, float* y) {
  const float d = load_fp16(b);
  const uint8_t* qs = b + 2;
  for (int j = 0; j < 16; ++j) {
    y[j] = d * static_cast<float>((qs[j] & 0x0F) - 8);
    y[j + 16] = d * static_cast<float>((qs[j] >> 4) - 8);
  }
}

void block_q4_1(const uint8_t* b, float* y) {
  const float d = load_fp16(b);
  const float m = load_fp16(b + 2);
  const uint8_t* qs = b + 4;
  for (int j = 0; j < 16; ++j) {
    y[j] = d * static_cast<float>(qs[j] & 0x0F) + m;
    y[j + 16] = d * static_cast<float>(qs[j] >> 4) + m;
  }
}

// The 5-bit codes of a Q5_0 / Q5_1 block: nibble plus bit j of the little-endian uint32 `qh`.
void q5_codes(uint32_t qh, const uint8_t* qs, int* q) {
  for (int j = 0; j < 16; ++j) {
    q[j] = (qs[j] & 0x0F) | static_cast<int>(((qh >> j) & 1u) << 4);
    q[j + 16] = (qs[j] >> 4) | static_cast<int>(((qh >> (j + 16)) & 1u) << 4);
  }
}

void block_q5_0(const uint8_t* b, float* y) {
  const float d = load_fp16(b);
  int q[32];
  q5_codes(load_u32(b + 2), b + 6, q);
  for (int j = 0; j < 32; ++j) y[j] = d * static_cast<float>(q[j] - 16);
}

void block_q5_1(const uint8_t* b, float* y) {
  const float d = load_fp16(b);
  const float m = load_fp16(b + 2);
  int q[32];
  q5_codes(load_u32(b + 4), b + 8, q);
  for (int j = 0; j < 32; ++j) y[j] = d * static_cast<float>(q[j]) + m;
}

// Q4_K / Q5_K's 12 scale bytes hold eight 6-bit scales and eight 6-bit mins: sub-blocks 0-3 in
// the low 6 bits of bytes 0-3 (scales) and 4-7 (mins); sub-blocks 4-7 take their low 4 bits from
// the nibbles of bytes 8-11 and their top 2 bits from the top bits of bytes 0-3 / 4-7.
void k_scale_min(const uint8_t* s, uint8_t* scale, uint8_t* min) {
  for (int i = 0; i < 4; ++i) {
    scale[i] = s[i] & 0x3F;
    min[i] = s[4 + i] & 0x3F;
    scale[4 + i] = static_cast<uint8_t>((s[8 + i] & 0x0F) | ((s[i] >> 2) & 0x30));
    min[4 + i] = static_cast<uint8_t>((s[8 + i] >> 4) | ((s[4 + i] >> 2) & 0x30));
  }
}

// Q4_K and Q5_K share everything but the 5th bit; qh == nullptr means Q4_K.
void block_k4_k5(const uint8_t* b, const uint8_t* qh, const uint8_t* qs, float* y) {
  const float d = load_fp16(b);
  const float dmin = load_fp16(b + 2);
  uint8_t scale[8], min[8];
  k_scale_min(b + 4, scale, min);
  for (int g = 0; g < 8; ++g) {
    // Sub-block g reads the low (even g) or high (odd g) nibbles of bytes [32·(g/2), +32).
    const float dl = d * static_cast<float>(scale[g]);
    const float ml = dmin * static_cast<float>(min[g]);
    const uint8_t* q = qs + 32 * (g / 2);
    const int shift = 4 * (g % 2);
    for (int j = 0; j < 32; ++j) {
      int v = (q[j] >> shift) & 0x0F;
      if (qh != nullptr) v |= ((qh[j] >> g) & 1) << 4;
      y[32 * g + j] = dl * static_cast<float>(v) - ml;
    }
  }
}

void block_q4_k(const uint8_t* b, float* y) { block_k4_k5(b, nullptr, b + 16, y); }

void block_q5_k(const uint8_t* b, float* y) { block_k4_k5(b, b + 16, b + 16 + kQK / 8, y); }

void block_q6_k(const uint8_t* b, float* y) {
  const uint8_t* ql = b;
  const uint8_t* qh = b + kQK / 2;
  const auto* scales = reinterpret_cast<const int8_t*>(b + kQK / 2 + kQK / 4);
  const float d = load_fp16(b + kQK / 2 + kQK / 4 + kQK / 16);
  for (int e = 0; e < static_cast<int>(kQK); ++e) {
    // Each half of 128 elements: low nibbles from 64 bytes (low halves, then high halves), the
    // two high bits from 32 bytes (bit pairs 0-1, 2-3, 4-5, 6-7 for each run of 32).
    const int half = e / 128, r = e % 128;
    const int lo = (ql[64 * half + r % 64] >> (4 * (r / 64))) & 0x0F;
    const int hi = (qh[32 * half + r % 32] >> (2 * (r / 32))) & 0x03;
    const float dl = d * static_cast<float>(scales[e / 16]);
    y[e] = dl * static_cast<float>((lo | (hi << 4)) - 32);
  }
}

using BlockFn = void (*)(const uint8_t*, float*);

BlockFn block_fn(GgmlType type) {
  switch (type) {
    case GgmlType::Q8_0: return block_q8_0;
    case GgmlType::Q4_0: return block_q4_0;
    case GgmlType::Q4_1: return block_q4_1;
    case GgmlType::Q5_0: return block_q5_0;
    case GgmlType::Q5_1: return block_q5_1;
    case GgmlType::Q4_K: return block_q4_k;
    case GgmlType::Q5_K: return block_q5_k;
    case GgmlType::Q6_K: return block_q6_k;
    default: return nullptr;
  }
}

}  // namespace

const GgmlTypeTraits* ggml_type_traits(uint32_t id) {
  for (const auto& t : kTraits)
    if (static_cast<uint32_t>(t.type) == id) return &t;
  return nullptr;
}

const GgmlTypeTraits& ggml_traits(GgmlType type) {
  const GgmlTypeTraits* t = ggml_type_traits(static_cast<uint32_t>(type));
  if (t == nullptr) throw Error(fmt::format("unknown ggml type {}", static_cast<uint32_t>(type)));
  return *t;
}

std::string ggml_type_name(GgmlType type) {
  const GgmlTypeTraits* t = ggml_type_traits(static_cast<uint32_t>(type));
  return t != nullptr ? std::string(t->name) : fmt::format("unknown ggml type {}", static_cast<uint32_t>(type));
}

uint64_t ggml_n_bytes(GgmlType type, uint64_t n_elements) {
  const GgmlTypeTraits& t = ggml_traits(type);
  check(n_elements % t.block_size == 0, "{}: {} elements are not a whole number of {}-element blocks",
        t.name, n_elements, t.block_size);
  const uint64_t blocks = n_elements / t.block_size;
  check(blocks <= std::numeric_limits<uint64_t>::max() / t.type_size,
        "{}: {} elements take more than 2^64 bytes", t.name, n_elements);
  return blocks * t.type_size;
}

std::vector<GgmlType> gguf_dequantizable_types() {
  std::vector<GgmlType> out;
  for (const auto& t : kTraits)
    if (t.dequantizable) out.push_back(t.type);
  return out;
}

float fp16_to_fp32(uint16_t h) {
  const uint32_t sign = static_cast<uint32_t>(h & 0x8000u) << 16;
  const uint32_t exp = (h >> 10) & 0x1Fu;
  uint32_t mant = h & 0x3FFu;
  if (exp == 0x1F) return bits_to_float(sign | 0x7F800000u | (mant << 13));  // Inf, NaN (payload kept)
  if (exp != 0) return bits_to_float(sign | ((exp + 127 - 15) << 23) | (mant << 13));
  if (mant == 0) return bits_to_float(sign);  // ±0
  // Subnormal half: shift the mantissa up to an implicit leading 1, lowering the exponent.
  uint32_t e = 127 - 15 + 1;
  while ((mant & 0x400u) == 0) {
    mant <<= 1;
    --e;
  }
  return bits_to_float(sign | (e << 23) | ((mant & 0x3FFu) << 13));
}

void gguf_dequantize(GgmlType type, const uint8_t* data, size_t n_elements, float* out) {
  const GgmlTypeTraits& t = ggml_traits(type);
  if (!t.dequantizable) {
    throw Error(fmt::format("ggml type {} (id {}) cannot be dequantized (supported: F32, F16, BF16, Q8_0, Q4_0, "
                            "Q4_1, Q5_0, Q5_1, Q4_K, Q5_K, Q6_K)",
                            t.name, static_cast<uint32_t>(type)));
  }
  check(n_elements % t.block_size == 0, "{}: {} elements are not a whole number of {}-element blocks",
        t.name, n_elements, t.block_size);
  switch (type) {
    case GgmlType::F32:
      std::memcpy(out, data, n_elements * sizeof(float));
      return;
    case GgmlType::F16:
      for (size_t i = 0; i < n_elements; ++i) out[i] = load_fp16(data + 2 * i);
      return;
    case GgmlType::BF16:
      // bf16 is the top half of an fp32: a bit move, NaN payloads included.
      for (size_t i = 0; i < n_elements; ++i) out[i] = bits_to_float(static_cast<uint32_t>(load_u16(data + 2 * i)) << 16);
      return;
    default:
      break;
  }
  const BlockFn fn = block_fn(type);
  check(fn != nullptr, "ggml type {}: marked dequantizable but has no decoder", t.name);
  const size_t blocks = n_elements / t.block_size;
  for (size_t i = 0; i < blocks; ++i) fn(data + i * t.type_size, out + i * t.block_size);
}

}  // namespace arena
