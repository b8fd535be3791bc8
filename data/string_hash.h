// A fast 64-bit hash of short byte strings (words, vocabulary pieces) for the tokenizer's tables:
// 8 bytes per multiply, not cryptographic, stable across runs (the tables live in memory only).
#pragma once

#include <cstdint>
#include <cstring>
#include <string_view>

namespace arena {

inline uint64_t string_hash(std::string_view s) {
  constexpr uint64_t kMul = 0x9E3779B97F4A7C15ULL;
  uint64_t h = 0x243F6A8885A308D3ULL ^ (s.size() * kMul);
  const char* p = s.data();
  size_t n = s.size();
  for (; n >= 8; p += 8, n -= 8) {
    uint64_t w;
    std::memcpy(&w, p, 8);
    h = (h ^ w) * kMul;
    h ^= h >> 32;
  }
  if (n > 0) {
    uint64_t w = 0;
    std::memcpy(&w, p, n);
    h = (h ^ w) * kMul;
    h ^= h >> 32;
  }
  h *= kMul;
  return h ^ (h >> 29);
}

}  // namespace arena
