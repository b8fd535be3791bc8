// The keep/drop decision of the seeded dropout (model/lora/lora_dropout.h): a counter-based hash of
// (seed, element index), so the mask can be regenerated in backward instead of stored, and the
// CPU and CUDA paths draw the same mask bit for bit. 24 bits per element against a threshold give
// P(drop) = round(p·2²⁴)/2²⁴.
#pragma once

#include <cstdint>

#if defined(__CUDACC__)
#define ARENA_HOST_DEVICE __host__ __device__
#else
#define ARENA_HOST_DEVICE
#endif

namespace arena {

// SplitMix64: the golden-ratio increment, then its finalizer. Also what launch/elastic.cpp
// reseeds the dropout streams with after an elastic resume.
ARENA_HOST_DEVICE inline uint64_t splitmix64(uint64_t x) {
  uint64_t z = x + 0x9E3779B97F4A7C15ULL;
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

// SplitMix64 over the counter of the element pair (index / 2): the pair-th output of the stream
// seeded with `seed`. One 64-bit hash serves two elements, so a kernel pays one hash per pair: the
// even element draws bits 40..63, the odd one bits 16..39 (the finalizer mixes every output bit).
ARENA_HOST_DEVICE inline uint64_t dropout_pair_hash(uint64_t seed, uint64_t pair) {
  return splitmix64(seed + pair * 0x9E3779B97F4A7C15ULL);
}

// The 24 bits of element `index` within its pair's hash z.
ARENA_HOST_DEVICE inline uint32_t dropout_bits_of(uint64_t z, uint64_t index) {
  return static_cast<uint32_t>((index & 1) != 0 ? (z >> 16) & 0xFFFFFFu : z >> 40);
}

ARENA_HOST_DEVICE inline uint32_t dropout_bits(uint64_t seed, uint64_t index) {
  return dropout_bits_of(dropout_pair_hash(seed, index >> 1), index);
}

// Element `index` is kept when its bits reach the threshold for drop probability p.
ARENA_HOST_DEVICE inline bool dropout_keep(uint64_t seed, uint64_t index, uint32_t threshold) {
  return dropout_bits(seed, index) >= threshold;
}

// The keep decisions of elements `even` and even + 1 (`even` must be even) from one hash.
struct KeepPair {
  bool first, second;
};
ARENA_HOST_DEVICE inline KeepPair dropout_keep_pair(uint64_t seed, uint64_t even, uint32_t threshold) {
  const uint64_t z = dropout_pair_hash(seed, even >> 1);
  return {dropout_bits_of(z, even) >= threshold, dropout_bits_of(z, even + 1) >= threshold};
}

}  // namespace arena
