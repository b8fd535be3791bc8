// The keep/drop decision of the seeded dropout (model/lora_dropout.h): a counter-based hash of
// (seed, element index), so the mask can be regenerated in backward instead of stored, and the
// CPU and CUDA paths draw the same mask bit for bit. SplitMix64's finalizer over the counter;
// its top 24 bits against a threshold give P(drop) = round(p·2²⁴)/2²⁴.
#pragma once

#include <cstdint>

#if defined(__CUDACC__)
#define ARENA_HOST_DEVICE __host__ __device__
#else
#define ARENA_HOST_DEVICE
#endif

namespace arena {

ARENA_HOST_DEVICE inline uint32_t dropout_bits(uint64_t seed, uint64_t index) {
  uint64_t z = seed + (index + 1) * 0x9E3779B97F4A7C15ULL;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  z ^= z >> 31;
  return static_cast<uint32_t>(z >> 40);
}

// Element `index` is kept when its bits reach the threshold for drop probability p.
ARENA_HOST_DEVICE inline bool dropout_keep(uint64_t seed, uint64_t index, uint32_t threshold) {
  return dropout_bits(seed, index) >= threshold;
}

}  // namespace arena
