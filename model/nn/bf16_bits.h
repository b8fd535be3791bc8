// bf16 <-> fp32 on raw 16-bit words, branch-free so loops over them vectorize: the same bits as
// c10::BFloat16's conversions (round to nearest even; every NaN becomes 0x7FC0).
#pragma once

#include <cstdint>
#include <cstring>

namespace arena {

inline float bf16_to_float(uint16_t h) {
  const uint32_t u = static_cast<uint32_t>(h) << 16;
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}

inline uint16_t float_to_bf16(float f) {
  uint32_t u;
  std::memcpy(&u, &f, sizeof u);
  const auto rounded = static_cast<uint16_t>((u + 0x7FFFu + ((u >> 16) & 1u)) >> 16);
  return (u & 0x7FFFFFFFu) > 0x7F800000u ? static_cast<uint16_t>(0x7FC0) : rounded;  // NaN: exponent all ones, mantissa not 0
}

}  // namespace arena
