// Safetensors files: memory-mapped reading (single file or a sharded checkpoint with
// model.safetensors.index.json) and writing.
//
// Format: 8-byte little-endian header length N, N bytes of JSON
// {"name": {"dtype": "F32", "shape": [..], "data_offsets": [begin, end]}, "__metadata__": {..}},
// then the raw little-endian data; offsets are relative to the end of the header.
#pragma once

#include <torch/types.h>

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace arena {

struct SafetensorsEntry {
  std::string dtype;            // as written in the header: F32, BF16, F16, U8, I64, ...
  std::vector<int64_t> shape;
  uint64_t begin = 0;           // byte offsets into the data section
  uint64_t end = 0;
};

// One safetensors file, mapped read-only. Tensors returned by tensor() are zero-copy views into
// the mapping and keep it alive; they must not be written to (the pages are read-only).
class SafetensorsFile : public std::enable_shared_from_this<SafetensorsFile> {
 public:
  // Maps `path` and validates the whole header (JSON, dtypes, shapes vs byte ranges, bounds,
  // overlaps). Throws arena::Error naming the file and the tensor on any inconsistency.
  static std::shared_ptr<SafetensorsFile> open(const std::string& path);
  ~SafetensorsFile();
  SafetensorsFile(const SafetensorsFile&) = delete;
  SafetensorsFile& operator=(const SafetensorsFile&) = delete;

  const std::string& path() const { return path_; }
  const std::map<std::string, SafetensorsEntry>& entries() const { return entries_; }
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  bool contains(const std::string& name) const { return entries_.count(name) > 0; }

  // Read-only CPU view of tensor `name`. Throws if absent.
  torch::Tensor tensor(const std::string& name) const;

 private:
  SafetensorsFile() = default;
  std::string path_;
  void* map_ = nullptr;
  size_t map_size_ = 0;
  const uint8_t* data_ = nullptr;  // start of the data section
  std::map<std::string, SafetensorsEntry> entries_;
  std::map<std::string, std::string> metadata_;
};

// A checkpoint directory (sharded via model.safetensors.index.json, or one model.safetensors),
// or a single .safetensors file. Files are mapped lazily, once each.
class SafetensorsCheckpoint {
 public:
  explicit SafetensorsCheckpoint(const std::string& path);

  const std::string& path() const { return path_; }
  std::vector<std::string> names() const;
  bool contains(const std::string& name) const { return file_of_.count(name) > 0; }
  // The file holding `name` (for error messages).
  const std::string& file_of(const std::string& name) const;
  std::vector<int64_t> shape_of(const std::string& name) const;
  torch::Tensor tensor(const std::string& name) const;

 private:
  std::shared_ptr<SafetensorsFile> file(const std::string& file_path) const;
  std::string path_;
  std::map<std::string, std::string> file_of_;  // tensor name -> file path
  mutable std::map<std::string, std::shared_ptr<SafetensorsFile>> files_;
};

// Writes `tensors` (any device, contiguous or not) to `path` in name order, with optional
// string metadata. Written to `path + ".tmp"` and renamed, so readers never see half a file.
void save_safetensors(const std::string& path,
                      const std::vector<std::pair<std::string, torch::Tensor>>& tensors,
                      const std::map<std::string, std::string>& metadata = {});

}  // namespace arena
