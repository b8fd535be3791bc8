// Helpers shared by the C++ tests: where the sources and the real shared data live, temp dirs.
#pragma once

#include <cstdlib>
#include <filesystem>
#include <random>
#include <string>

namespace arena::testing {

inline std::filesystem::path source_dir() {
  const char* d = std::getenv("ARENA_SOURCE_DIR");
  return d != nullptr ? std::filesystem::path(d) : std::filesystem::current_path();
}

inline std::filesystem::path fixture_dir() { return source_dir() / "tests" / "fixtures"; }

inline std::filesystem::path shared_dir() {
  const char* d = std::getenv("ARENA_SHARED_DIR");
  return d != nullptr ? std::filesystem::path(d) : source_dir() / ".." / "shared";
}

// A fresh, empty directory under the system temp dir, removed by the destructor.
class TempDir {
 public:
  TempDir() {
    std::random_device rd;
    path_ = std::filesystem::temp_directory_path() / ("arena-test-" + std::to_string(rd()) + std::to_string(rd()));
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::string operator/(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

}  // namespace arena::testing
