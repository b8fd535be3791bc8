// What the CPU loop files (model/nn/cpu_kernels.cpp, model/lora/lora_cpu_kernels.cpp) share: the
// clone attribute, loads and stores through the storage type as fp32, and the dropout bits of a
// block of elements. Include it only from files compiled with -ffp-contract=off, so that both
// clones of every loop round alike.
#pragma once

#include <c10/util/BFloat16.h>

#include <algorithm>
#include <cstdint>

#include "model/cuda/dropout_hash.h"
#include "model/nn/bf16_bits.h"

// The public entry points are clones: x86-64-v4 (AVX-512) where the CPU has it, the baseline
// elsewhere. The loops they inline are written for the vectorizer (no branches, no calls).
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
#define ARENA_CPU_CLONES __attribute__((target_clones("arch=x86-64-v4", "default")))
#else
#define ARENA_CPU_CLONES
#endif
#define ARENA_INLINE inline __attribute__((always_inline))

namespace arena::cpu::loops {

// Loads and stores through the storage type, as fp32.
ARENA_INLINE float ld(const float* p, int64_t i) { return p[i]; }
ARENA_INLINE void st(float* p, int64_t i, float v) { p[i] = v; }
ARENA_INLINE float ld(const uint16_t* p, int64_t i) { return bf16_to_float(p[i]); }
ARENA_INLINE void st(uint16_t* p, int64_t i, float v) { p[i] = float_to_bf16(v); }

// The storage as the loops see it: fp32 as is, bf16 as its 16-bit words.
inline const float* raw(const float* p) { return p; }
inline float* raw(float* p) { return p; }
inline const uint16_t* raw(const c10::BFloat16* p) { return reinterpret_cast<const uint16_t*>(p); }
inline uint16_t* raw(c10::BFloat16* p) { return reinterpret_cast<uint16_t*>(p); }
static_assert(sizeof(c10::BFloat16) == sizeof(uint16_t), "BFloat16 is one 16-bit word");

// v as an eager op stores it: rounded to the storage type S.
ARENA_INLINE float rounded(float v, const float*) { return v; }
ARENA_INLINE float rounded(float v, const uint16_t*) { return bf16_to_float(float_to_bf16(v)); }

// a·b as an eager op stores it.
template <typename S>
ARENA_INLINE float product(float a, float b, const S* storage) {
  return rounded(a * b, storage);
}

// The dropout bits (model/cuda/dropout_hash.h) of the n ≤ 2·kDropoutBitsPairs elements whose first
// has flat index `first`, one hash per pair; bits[k] belongs to element first + k.
constexpr int64_t kDropoutBitsPairs = 256;
ARENA_INLINE void dropout_bits_block(uint64_t seed, uint64_t first, int64_t n, uint32_t* bits) {
  int64_t k = 0;
  if (n > 0 && (first & 1) != 0) bits[k++] = dropout_bits(seed, first);
  const int64_t pairs = (n - k) / 2;
  const uint64_t pair0 = (first + static_cast<uint64_t>(k)) >> 1;
  uint32_t* b = bits + k;
  for (int64_t q = 0; q < pairs; ++q) {
    const uint64_t z = dropout_pair_hash(seed, pair0 + static_cast<uint64_t>(q));
    b[2 * q] = dropout_bits_of(z, 0);
    b[2 * q + 1] = dropout_bits_of(z, 1);
  }
  k += 2 * pairs;
  if (k < n) bits[k] = dropout_bits(seed, first + static_cast<uint64_t>(k));
}

}  // namespace arena::cpu::loops
