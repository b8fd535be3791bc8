// Shared by the libFuzzer harnesses (tests/fuzz/fuzz_*.cpp): most readers take a path, so the
// input goes to a scratch file first.
//
// Contract of every harness: an arena::Error is the expected answer to a malformed input and is
// swallowed; anything else that escapes (another exception type, a crash, a sanitizer report,
// a timeout or an allocation over libFuzzer's limits) is a finding.
#pragma once

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>

namespace arena::fuzz {

// A per-process scratch path with `suffix` (the readers pick the format by extension):
// $TMPDIR/arena-fuzz-<pid><suffix>. Removed at exit.
inline const std::string& scratch_path(const std::string& suffix) {
  static const std::string path = [&] {
    const char* dir = std::getenv("TMPDIR");
    std::string p = std::string(dir && *dir ? dir : "/tmp") + "/arena-fuzz-" + std::to_string(::getpid()) + suffix;
    static std::string for_atexit;
    for_atexit = p;
    std::atexit([] { std::remove(for_atexit.c_str()); });
    return p;
  }();
  return path;
}

// Writes `data` to `path` (truncating it); aborts if that fails, since then nothing is tested.
inline void write_file(const std::string& path, const uint8_t* data, size_t size) {
  FILE* f = std::fopen(path.c_str(), "wb");
  if (f == nullptr || (size > 0 && std::fwrite(data, 1, size, f) != size) || std::fclose(f) != 0) {
    std::perror(path.c_str());
    std::abort();
  }
}

}  // namespace arena::fuzz
