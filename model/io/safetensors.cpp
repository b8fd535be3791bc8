#include "model/io/safetensors.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>

#include "common/error.h"
#include "common/json_integer.h"

namespace arena {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

struct DtypeInfo {
  const char* name;
  torch::ScalarType type;
  size_t bytes;
};

constexpr DtypeInfo kDtypes[] = {
    {"F64", torch::kFloat64, 8}, {"F32", torch::kFloat32, 4}, {"F16", torch::kFloat16, 2},
    {"BF16", torch::kBFloat16, 2}, {"I64", torch::kInt64, 8}, {"I32", torch::kInt32, 4},
    {"I16", torch::kInt16, 2},   {"I8", torch::kInt8, 1},     {"U8", torch::kUInt8, 1},
    {"BOOL", torch::kBool, 1},
};

const DtypeInfo* find_dtype(const std::string& name) {
  for (const auto& d : kDtypes)
    if (name == d.name) return &d;
  return nullptr;
}

const DtypeInfo& dtype_of(torch::ScalarType t) {
  for (const auto& d : kDtypes)
    if (d.type == t) return d;
  throw Error(fmt::format("safetensors: dtype {} cannot be stored", c10::toString(t)));
}

std::string errno_text() { return std::strerror(errno); }

std::string shape_text(const std::vector<int64_t>& s) {
  return fmt::format("[{}]", fmt::join(s, ", "));
}

}  // namespace

std::shared_ptr<SafetensorsFile> SafetensorsFile::open(const std::string& path) {
  std::shared_ptr<SafetensorsFile> f(new SafetensorsFile());
  f->path_ = path;
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  check(fd >= 0, "{}: cannot open safetensors file ({})", path, errno_text());
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    ::close(fd);
    throw Error(fmt::format("{}: cannot stat ({})", path, errno_text()));
  }
  const auto size = static_cast<size_t>(st.st_size);
  if (size < 8) {
    ::close(fd);
    throw Error(fmt::format("{}: file is {} bytes, too short for a safetensors header", path, size));
  }
  void* map = ::mmap(nullptr, size, PROT_READ, MAP_PRIVATE, fd, 0);
  ::close(fd);
  check(map != MAP_FAILED, "{}: mmap failed ({})", path, errno_text());
  f->map_ = map;
  f->map_size_ = size;

  const auto* bytes = static_cast<const uint8_t*>(map);
  uint64_t header_len = 0;
  for (int i = 7; i >= 0; --i) header_len = (header_len << 8) | bytes[i];
  check(header_len <= size - 8, "{}: header length {} exceeds the file size {} (truncated or not safetensors)",
        path, header_len, size);
  f->data_ = bytes + 8 + header_len;
  const uint64_t data_size = size - 8 - header_len;

  json header;
  try {
    header = json::parse(bytes + 8, bytes + 8 + header_len);
  } catch (const json::exception& e) {  // parse_error, or out_of_range for a number too large
    throw Error(fmt::format("{}: header is not valid JSON ({})", path, e.what()));
  }
  check(header.is_object(), "{}: header is not a JSON object", path);

  std::vector<std::pair<uint64_t, uint64_t>> ranges;
  for (auto it = header.begin(); it != header.end(); ++it) {
    const std::string& name = it.key();
    if (name == "__metadata__") {
      check(it->is_object(), "{}: __metadata__ is not an object", path);
      for (auto m = it->begin(); m != it->end(); ++m) {
        check(m->is_string(), "{}: __metadata__ value '{}' is not a string", path, m.key());
        f->metadata_[m.key()] = m->get<std::string>();
      }
      continue;
    }
    const json& e = *it;
    check(e.is_object() && e.contains("dtype") && e.contains("shape") && e.contains("data_offsets"),
          "{}: tensor '{}' lacks dtype, shape or data_offsets", path, name);
    SafetensorsEntry entry;
    try {
      entry.dtype = e["dtype"].get<std::string>();
      entry.shape = json_integers(e["shape"], fmt::format("{}: tensor '{}' shape", path, name));
      const auto off = json_integers<uint64_t>(e["data_offsets"], fmt::format("{}: tensor '{}' data_offsets", path, name));
      check(off.size() == 2, "{}: tensor '{}' data_offsets must have 2 entries", path, name);
      entry.begin = off[0];
      entry.end = off[1];
    } catch (const json::exception& ex) {
      throw Error(fmt::format("{}: tensor '{}' has a malformed entry ({})", path, name, ex.what()));
    }
    const DtypeInfo* d = find_dtype(entry.dtype);
    check(d != nullptr, "{}: tensor '{}' has unsupported dtype '{}'", path, name, entry.dtype);
    // The element count and byte size must fit torch's int64 sizes: a shape whose product wraps
    // around would otherwise match a short byte range (found by tests/fuzz/fuzz_safetensors.cpp).
    uint64_t numel = 1;
    bool empty = false;
    const uint64_t max_numel = static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) / d->bytes;
    for (int64_t s : entry.shape) {
      check(s >= 0, "{}: tensor '{}' has a negative dimension in {}", path, name, shape_text(entry.shape));
      if (s == 0) {
        empty = true;
        continue;
      }
      check(numel <= max_numel / static_cast<uint64_t>(s), "{}: tensor '{}' has shape {}: more than {} bytes",
            path, name, shape_text(entry.shape), std::numeric_limits<int64_t>::max());
      numel *= static_cast<uint64_t>(s);
    }
    if (empty) numel = 0;
    check(entry.begin <= entry.end && entry.end <= data_size,
          "{}: tensor '{}' bytes [{}, {}) fall outside the data section of {} bytes (truncated file?)",
          path, name, entry.begin, entry.end, data_size);
    check(entry.end - entry.begin == numel * d->bytes,
          "{}: tensor '{}' is {} {} but occupies {} bytes, expected {}", path, name, entry.dtype,
          shape_text(entry.shape), entry.end - entry.begin, numel * d->bytes);
    ranges.emplace_back(entry.begin, entry.end);
    f->entries_.emplace(name, std::move(entry));
  }
  std::sort(ranges.begin(), ranges.end());
  for (size_t i = 1; i < ranges.size(); ++i)
    check(ranges[i].first >= ranges[i - 1].second, "{}: tensor byte ranges overlap at offset {}", path,
          ranges[i].first);
  return f;
}

SafetensorsFile::~SafetensorsFile() {
  if (map_ != nullptr) ::munmap(map_, map_size_);
}

torch::Tensor SafetensorsFile::tensor(const std::string& name) const {
  auto it = entries_.find(name);
  check(it != entries_.end(), "{}: no tensor named '{}'", path_, name);
  const SafetensorsEntry& e = it->second;
  const DtypeInfo* d = find_dtype(e.dtype);
  // The deleter holds a reference to the mapping, so the view outlives this object safely.
  auto self = shared_from_this();
  return torch::from_blob(const_cast<uint8_t*>(data_ + e.begin), e.shape,
                          [self](void*) {},
                          torch::TensorOptions().dtype(d->type));
}

SafetensorsCheckpoint::SafetensorsCheckpoint(const std::string& path) : path_(path) {
  const fs::path p(path);
  check(fs::exists(p), "{}: checkpoint path does not exist", path);
  if (!fs::is_directory(p)) {
    for (const auto& [name, _] : file(path)->entries()) file_of_[name] = path;
    return;
  }
  const fs::path index = p / "model.safetensors.index.json";
  if (fs::exists(index)) {
    std::ifstream in(index);
    check(in.good(), "{}: cannot open", index.string());
    json j;
    try {
      j = json::parse(in);
    } catch (const json::exception& e) {
      throw Error(fmt::format("{}: not valid JSON ({})", index.string(), e.what()));
    }
    check(j.contains("weight_map") && j["weight_map"].is_object(), "{}: no weight_map object",
          index.string());
    for (auto it = j["weight_map"].begin(); it != j["weight_map"].end(); ++it) {
      check(it->is_string(), "{}: weight_map entry '{}' is not a file name", index.string(), it.key());
      const fs::path shard = p / it->get<std::string>();
      check(fs::exists(shard), "{}: shard '{}' named for tensor '{}' does not exist", index.string(),
            shard.string(), it.key());
      file_of_[it.key()] = shard.string();
    }
    // The index must agree with the shards' own headers.
    for (const auto& [name, shard] : file_of_)
      check(file(shard)->contains(name), "{}: index maps '{}' to {}, which does not contain it",
            index.string(), name, shard);
    return;
  }
  const fs::path single = p / "model.safetensors";
  check(fs::exists(single), "{}: neither model.safetensors.index.json nor model.safetensors found", path);
  for (const auto& [name, _] : file(single.string())->entries()) file_of_[name] = single.string();
}

std::vector<std::string> SafetensorsCheckpoint::names() const {
  std::vector<std::string> out;
  out.reserve(file_of_.size());
  for (const auto& [name, _] : file_of_) out.push_back(name);
  return out;
}

const std::string& SafetensorsCheckpoint::file_of(const std::string& name) const {
  auto it = file_of_.find(name);
  check(it != file_of_.end(), "{}: no tensor named '{}'", path_, name);
  return it->second;
}

std::vector<int64_t> SafetensorsCheckpoint::shape_of(const std::string& name) const {
  return file(file_of(name))->entries().at(name).shape;
}

torch::Tensor SafetensorsCheckpoint::tensor(const std::string& name) const {
  return file(file_of(name))->tensor(name);
}

std::shared_ptr<SafetensorsFile> SafetensorsCheckpoint::file(const std::string& file_path) const {
  auto it = files_.find(file_path);
  if (it != files_.end()) return it->second;
  auto f = SafetensorsFile::open(file_path);
  files_[file_path] = f;
  return f;
}

void save_safetensors(const std::string& path,
                      const std::vector<std::pair<std::string, torch::Tensor>>& tensors,
                      const std::map<std::string, std::string>& metadata) {
  json header = json::object();
  if (!metadata.empty()) header["__metadata__"] = metadata;
  std::vector<torch::Tensor> blobs;
  blobs.reserve(tensors.size());
  uint64_t offset = 0;
  for (const auto& [name, t] : tensors) {
    check(t.defined(), "{}: tensor '{}' is undefined", path, name);
    check(name != "__metadata__", "{}: '__metadata__' is reserved", path);
    const DtypeInfo& d = dtype_of(t.scalar_type());
    auto cpu = t.detach().to(torch::kCPU).contiguous();
    const uint64_t n = static_cast<uint64_t>(cpu.numel()) * d.bytes;
    header[name] = {{"dtype", d.name}, {"shape", t.sizes().vec()}, {"data_offsets", {offset, offset + n}}};
    offset += n;
    blobs.push_back(std::move(cpu));
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');  // keep the data section 8-byte aligned
  const std::string tmp = path + ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    check(out.good(), "{}: cannot open for writing", tmp);
    uint64_t len = text.size();
    char len_bytes[8];
    for (int i = 0; i < 8; ++i) len_bytes[i] = static_cast<char>((len >> (8 * i)) & 0xff);
    out.write(len_bytes, 8);
    out.write(text.data(), static_cast<std::streamsize>(text.size()));
    for (const auto& b : blobs)
      out.write(static_cast<const char*>(b.data_ptr()), static_cast<std::streamsize>(b.nbytes()));
    out.flush();
    check(out.good(), "{}: write failed (disk full?)", tmp);
  }
  std::error_code ec;
  fs::rename(tmp, path, ec);
  check(!ec, "{}: cannot rename {} into place ({})", path, tmp, ec.message());
}

}  // namespace arena
