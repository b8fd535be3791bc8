// Run output on rank 0: one JSON object per line in <run>/metrics.jsonl (kind = train | eval |
// skip | checkpoint | summary), and the human progress line with rates and ETA on stderr.
// MetricsLog::write is the one source of the run's metrics: the same record goes to metrics.jsonl
// and, when asked for, as scalars to TensorBoard event files (launch/tb_scalars.h says which tags).
#pragma once

#include <nlohmann/json.hpp>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <vector>

namespace arena {

class EventFile;

class MetricsLog {
 public:
  // Appends to `path` (a resumed run continues the same file). `enabled` false: writes nothing.
  // `tensorboard_dir` not empty: also a new TensorBoard event file there (launch/event_file.h; a
  // resumed run adds one beside the earlier ones). Throws naming the path it cannot write.
  MetricsLog(const std::string& path, bool enabled, const std::string& tensorboard_dir = "");
  ~MetricsLog();
  MetricsLog(const MetricsLog&) = delete;
  MetricsLog& operator=(const MetricsLog&) = delete;
  // One line of metrics.jsonl, and its numbers as TensorBoard scalars (tb_scalars).
  void write(const nlohmann::json& record);
  // The distribution of `values` as a TensorBoard histogram under `tag` at `step` (histogram_of:
  // 30 equal-width buckets between min and max). TensorBoard only: nothing in metrics.jsonl, and
  // nothing at all without TensorBoard or when `values` is empty.
  void histogram(const std::string& tag, const std::vector<double>& values, int64_t step);

 private:
  std::FILE* file_ = nullptr;
  std::unique_ptr<EventFile> events_;
  int64_t last_step_ = 0;  // for records without a step (tb_scalars)
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
