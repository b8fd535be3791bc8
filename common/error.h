// arena::Error and the checking helper used for our own invariants.
// Contract: every message names the object (file, tensor, row, key) and says expected vs found.
// C APIs (MPI, NCCL, CUDA, HDF5, sentencepiece) each get their own helper in the library that
// wraps them; this one is for arena's own checks.
#pragma once

#include <fmt/format.h>

#include <stdexcept>
#include <string>

namespace arena {

class Error : public std::runtime_error {
 public:
  explicit Error(const std::string& what) : std::runtime_error(what) {}
};

// Throws arena::Error with a formatted message when `cond` is false.
template <typename... Args>
void check(bool cond, fmt::format_string<Args...> format, Args&&... args) {
  if (!cond) throw Error(fmt::format(format, std::forward<Args>(args)...));
}

}  // namespace arena
