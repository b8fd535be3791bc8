#include "launch/event_file.h"

#include <unistd.h>

#include <boost/crc.hpp>

#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <system_error>

#include "common/error.h"
#include "launch/tensorboard.pb.h"

namespace arena {

namespace fs = std::filesystem;

namespace {

// CRC-32C: Castagnoli polynomial, reflected in and out, initial and final XOR all ones.
using Crc32c = boost::crc_optimal<32, 0x1EDC6F41, 0xFFFFFFFF, 0xFFFFFFFF, true, true>;

void put_le(std::string& out, uint64_t v, int bytes) {
  for (int i = 0; i < bytes; ++i) out.push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}

double unix_seconds() {
  return std::chrono::duration<double>(std::chrono::system_clock::now().time_since_epoch()).count();
}

std::string host_name() {
  char name[256] = {0};
  if (gethostname(name, sizeof(name) - 1) != 0 || name[0] == 0) return "localhost";
  return name;
}

}  // namespace

uint32_t crc32c(const void* data, size_t size) {
  Crc32c crc;
  crc.process_bytes(data, size);
  return crc.checksum();
}

uint32_t masked_crc32c(const void* data, size_t size) {
  const uint32_t c = crc32c(data, size);
  return ((c >> 15) | (c << 17)) + 0xa282ead8u;
}

std::string tfrecord(const std::string& payload) {
  std::string out;
  out.reserve(payload.size() + 16);
  put_le(out, payload.size(), 8);
  put_le(out, masked_crc32c(out.data(), 8), 4);
  out += payload;
  put_le(out, masked_crc32c(payload.data(), payload.size()), 4);
  return out;
}

Histogram histogram_of(const std::vector<double>& values, int buckets) {
  check(buckets > 0, "histogram_of: buckets must be positive, got {}", buckets);
  Histogram h;
  std::vector<double> v;
  v.reserve(values.size());
  for (double x : values)
    if (std::isfinite(x)) v.push_back(x);
  check(!v.empty(), "histogram_of: no finite value among {}", values.size());
  h.min = *std::min_element(v.begin(), v.end());
  h.max = *std::max_element(v.begin(), v.end());
  h.num = static_cast<double>(v.size());
  for (double x : v) {
    h.sum += x;
    h.sum_squares += x * x;
  }
  if (h.max == h.min) buckets = 1;
  const double width = (h.max - h.min) / buckets;
  for (int i = 0; i < buckets; ++i) h.limits.push_back(i + 1 == buckets ? h.max : h.min + width * (i + 1));
  h.counts.assign(static_cast<size_t>(buckets), 0.0);
  for (double x : v) {
    // The first limit >= x: buckets are closed on the right, so a value on a limit counts below it.
    const auto at = std::lower_bound(h.limits.begin(), h.limits.end(), x) - h.limits.begin();
    h.counts[static_cast<size_t>(std::min<std::ptrdiff_t>(at, buckets - 1))] += 1;
  }
  return h;
}

EventFile::EventFile(const std::string& dir) {
  std::error_code ec;
  fs::create_directories(dir, ec);
  check(!ec && fs::is_directory(dir), "{}: cannot create the TensorBoard directory ({})", dir,
        ec ? ec.message() : "not a directory");
  const auto stem = (fs::path(dir) / fmt::format("events.out.tfevents.{}.{}", static_cast<int64_t>(unix_seconds()),
                                                 host_name()))
                        .string();
  path_ = stem;
  for (int k = 1; fs::exists(path_); ++k) path_ = fmt::format("{}.{}", stem, k);
  file_ = std::fopen(path_.c_str(), "wb");
  check(file_ != nullptr, "{}: cannot create the TensorBoard event file ({})", path_, std::strerror(errno));
  tb::Event first;
  first.set_wall_time(unix_seconds());
  first.set_file_version("brain.Event:2");
  append(first.SerializeAsString());
}

EventFile::~EventFile() {
  if (file_) std::fclose(file_);
}

void EventFile::scalars(const std::vector<std::pair<std::string, double>>& values, int64_t step) {
  if (values.empty()) return;
  tb::Event e;
  e.set_wall_time(unix_seconds());
  e.set_step(step);
  for (const auto& [tag, value] : values) {
    auto* v = e.mutable_summary()->add_value();
    v->set_tag(tag);
    v->set_simple_value(static_cast<float>(value));
  }
  append(e.SerializeAsString());
}

void EventFile::histogram(const std::string& tag, const Histogram& h, int64_t step) {
  tb::Event e;
  e.set_wall_time(unix_seconds());
  e.set_step(step);
  auto* v = e.mutable_summary()->add_value();
  v->set_tag(tag);
  auto* p = v->mutable_histo();
  p->set_min(h.min);
  p->set_max(h.max);
  p->set_num(h.num);
  p->set_sum(h.sum);
  p->set_sum_squares(h.sum_squares);
  for (double l : h.limits) p->add_bucket_limit(l);
  for (double c : h.counts) p->add_bucket(c);
  append(e.SerializeAsString());
}

void EventFile::append(const std::string& event_bytes) {
  const auto record = tfrecord(event_bytes);
  const bool ok = std::fwrite(record.data(), 1, record.size(), file_) == record.size() && std::fflush(file_) == 0;
  check(ok, "{}: cannot write a TensorBoard event ({})", path_, std::strerror(errno));
}

}  // namespace arena
