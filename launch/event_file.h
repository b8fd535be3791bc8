// TensorBoard event files: what `tensorboard --logdir` reads. A file is a sequence of records, each
//   uint64 length (little-endian) | uint32 masked CRC-32C of those 8 bytes | data | uint32 masked CRC-32C of data
// (TFRecord framing; masked(c) = rotate-right(c, 15) + 0xa282ead8), and each record's data is one
// serialized Event (launch/tensorboard.proto). The first Event holds file_version "brain.Event:2";
// the rest each hold one Summary of tagged scalars or one histogram at a step.
//
// CRC-32C (Castagnoli) comes from Boost.CRC, the messages from protobuf; nothing here encodes them
// by hand. Every record is flushed when written, so a killed run leaves a file readable up to its
// last record.
#pragma once

#include <cstdint>
#include <cstdio>
#include <string>
#include <utility>
#include <vector>

namespace arena {

// CRC-32C of `size` bytes ("123456789" -> 0xE3069283).
uint32_t crc32c(const void* data, size_t size);
// The checksum as TFRecord stores it: rotated right by 15 bits, plus 0xa282ead8 (mod 2^32).
uint32_t masked_crc32c(const void* data, size_t size);
// `payload` framed as one TFRecord (12-byte header, payload, 4-byte footer).
std::string tfrecord(const std::string& payload);

// A histogram as TensorBoard stores it: bucket i counts the values in (limits[i-1], limits[i]]
// (the first bucket also holds min itself).
struct Histogram {
  double min = 0, max = 0, num = 0, sum = 0, sum_squares = 0;
  std::vector<double> limits, counts;
};
// `buckets` equal-width buckets between the values' min and max (the last limit is max exactly);
// one bucket when every value is the same. Non-finite values are left out. Throws when none is left.
Histogram histogram_of(const std::vector<double>& values, int buckets = 30);

class EventFile {
 public:
  // Creates `dir` (and its parents) and a new file events.out.tfevents.<unix seconds>.<host name>
  // in it (".1", ".2", ... appended if that name exists: a resumed run gets its own file, which
  // TensorBoard merges with the earlier ones). Throws arena::Error naming the path it cannot write.
  explicit EventFile(const std::string& dir);
  ~EventFile();
  EventFile(const EventFile&) = delete;
  EventFile& operator=(const EventFile&) = delete;

  const std::string& path() const { return path_; }
  // One Event at `step` with a float32 scalar per (tag, value).
  void scalars(const std::vector<std::pair<std::string, double>>& values, int64_t step);
  // One Event at `step` with the histogram under `tag`.
  void histogram(const std::string& tag, const Histogram& h, int64_t step);

 private:
  void append(const std::string& event_bytes);
  std::string path_;
  std::FILE* file_ = nullptr;
};

}  // namespace arena
