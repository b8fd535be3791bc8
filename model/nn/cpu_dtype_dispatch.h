// The one dispatch the CPU loop wrappers share: fp32 or bf16 storage to a C++ type.
#pragma once

#include <c10/core/ScalarType.h>
#include <c10/util/BFloat16.h>

namespace arena {

// Calls f with a null pointer of the CPU storage type of t: float* for fp32, c10::BFloat16*
// otherwise (the callers have checked that t is one of the two).
template <typename F>
void cpu_by_type(c10::ScalarType t, F&& f) {
  if (t == c10::ScalarType::Float) {
    f(static_cast<float*>(nullptr));
  } else {
    f(static_cast<c10::BFloat16*>(nullptr));
  }
}

}  // namespace arena
