// Run output on rank 0: one JSON object per line in <run>/metrics.jsonl (kind = train | eval |
// skip | checkpoint | summary), and the human progress line with rates and ETA on stderr.
#pragma once

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdio>
#include <string>

namespace arena {

class MetricsLog {
 public:
  // Appends to `path` (a resumed run continues the same file). `enabled` false: writes nothing.
  MetricsLog(const std::string& path, bool enabled);
  ~MetricsLog();
  MetricsLog(const MetricsLog&) = delete;
  MetricsLog& operator=(const MetricsLog&) = delete;
  void write(const nlohmann::json& record);

 private:
  std::FILE* file_ = nullptr;
};

// "1h02m", "3m05s", "42s".
std::string format_duration(double seconds);

// Tracks throughput between progress lines.
class Throughput {
 public:
  Throughput();
  // Adds one optimizer step's work; returns {tokens/s, samples/s} over the window since the last reset.
  void add(int64_t tokens, int64_t samples);
  double tokens_per_s() const;
  double samples_per_s() const;
  double seconds_per_step() const;
  void reset();

 private:
  std::chrono::steady_clock::time_point start_;
  int64_t tokens_ = 0, samples_ = 0, steps_ = 0;
};

}  // namespace arena
