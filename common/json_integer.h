// Integers out of JSON read from files (safetensors headers, bitsandbytes quant_state, config.json).
// nlohmann's get<int64_t>() on a JSON float (3e71, or an integer too large for 64 bits, which it
// parses as one) is a float-to-integer cast with undefined behaviour out of range (found twice by
// tests/fuzz under UBSan). So a value must be a JSON integer, or a float holding a whole number in
// T's range (a config written as 640.0); anything else is an error naming the value.
// Header-only; the includer links nlohmann_json.
#pragma once

#include <nlohmann/json.hpp>

#include <cmath>
#include <limits>
#include <string>
#include <type_traits>
#include <vector>

#include "common/error.h"

namespace arena {

// `v` as T (an integer type); `what` names the value for the error ("FILE: tensor 'x' shape entry").
template <typename T = int64_t>
T json_integer(const nlohmann::json& v, const std::string& what) {
  if (v.is_number_integer()) return v.get<T>();
  if (v.is_number_float()) {
    const double d = v.get<double>();
    const double bound = std::ldexp(1.0, std::numeric_limits<T>::digits);  // 2^63 for int64: exact
    if (std::isfinite(d) && d == std::floor(d) && d < bound && d >= (std::is_signed_v<T> ? -bound : 0.0))
      return static_cast<T>(d);
  }
  throw Error(fmt::format("{} is {}, expected an integer", what, v.dump()));
}

// A JSON list of integers.
template <typename T = int64_t>
std::vector<T> json_integers(const nlohmann::json& v, const std::string& what) {
  check(v.is_array(), "{} is {}, expected a list of integers", what, v.dump());
  std::vector<T> out;
  out.reserve(v.size());
  for (const auto& x : v) out.push_back(json_integer<T>(x, what + " entry"));
  return out;
}

}  // namespace arena
