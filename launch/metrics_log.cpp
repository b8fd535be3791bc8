#include "launch/metrics_log.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <filesystem>

#include "common/error.h"
#include "launch/event_file.h"
#include "launch/tb_scalars.h"

namespace arena {

MetricsLog::MetricsLog(const std::string& path, bool enabled, const std::string& tensorboard_dir) {
  if (!enabled) return;
  if (!tensorboard_dir.empty()) events_ = std::make_unique<EventFile>(tensorboard_dir);
  std::filesystem::create_directories(std::filesystem::path(path).parent_path());
  file_ = std::fopen(path.c_str(), "a");
  check(file_ != nullptr, "{}: cannot open for appending", path);
}

MetricsLog::~MetricsLog() {
  if (file_) std::fclose(file_);
}

void MetricsLog::write(const nlohmann::json& record) {
  if (!file_) return;
  const auto line = record.dump() + "\n";
  std::fwrite(line.data(), 1, line.size(), file_);
  std::fflush(file_);
  if (!events_) return;
  const auto s = tb_scalars(record, last_step_);
  last_step_ = s.step;
  events_->scalars(s.values, s.step);
}

void MetricsLog::histogram(const std::string& tag, const std::vector<double>& values, int64_t step) {
  const auto finite = [](double v) { return std::isfinite(v); };
  if (!events_ || std::none_of(values.begin(), values.end(), finite)) return;
  events_->histogram(tag, histogram_of(values), step);
}

std::string format_duration(double s) {
  const auto t = static_cast<int64_t>(std::max(0.0, s) + 0.5);
  if (t >= 3600) return fmt::format("{}h{:02d}m", t / 3600, (t % 3600) / 60);
  if (t >= 60) return fmt::format("{}m{:02d}s", t / 60, t % 60);
  return fmt::format("{}s", t);
}

Throughput::Throughput() { reset(); }

void Throughput::add(int64_t tokens, int64_t samples) {
  tokens_ += tokens;
  samples_ += samples;
  ++steps_;
}

static double elapsed(std::chrono::steady_clock::time_point since) {
  return std::max(1e-9, std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count());
}

double Throughput::tokens_per_s() const { return static_cast<double>(tokens_) / elapsed(start_); }
double Throughput::samples_per_s() const { return static_cast<double>(samples_) / elapsed(start_); }
double Throughput::seconds_per_step() const { return steps_ ? elapsed(start_) / static_cast<double>(steps_) : 0.0; }

void Throughput::reset() {
  start_ = std::chrono::steady_clock::now();
  tokens_ = samples_ = steps_ = 0;
}

}  // namespace arena
