#include "model/io/gguf.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <limits>
#include <numeric>

#include "common/error.h"

namespace arena {

bool is_gguf_path(const std::string& path) {
  return path.size() > 5 && path.compare(path.size() - 5, 5, ".gguf") == 0;
}
GgufFile open_gguf_model(const std::string& path) {
  std::error_code ec;
  check(std::filesystem::exists(path, ec), "{}: no such model file (the real Gemma-3-270M is installed by tools/setup.sh "
        "as ~/.cache/arena/models/gemma-3-270m-q4_k_m.gguf; python3 tools/fetch_gemma3_gguf.py does only that)", path);
  return GgufFile::open(path);
}

const std::vector<std::string>& gguf_vocabulary(const GgufFile& file) {
  return file.get_string_array("tokenizer.ggml.tokens");
}

namespace {

constexpr uint32_t kDefaultAlignment = 32;
constexpr uint32_t kMaxDims = 4;         // GGML_MAX_DIMS
constexpr int kMaxArrayDepth = 8;        // nested arrays; bounds the recursion on hostile input
constexpr uint32_t kMaxValueType = 12;   // F64
// The fewest bytes a record can take, to reject counts the rest of the file cannot hold before
// reserving memory for them: key string (8) + type (4) + a 1-byte value; name string (8) + n_dims
// (4) + one dim (8) + type (4) + offset (8).
constexpr uint64_t kMinKvBytes = 8 + 4 + 1;
constexpr uint64_t kMinTensorBytes = 8 + 4 + 8 + 4 + 8;

bool host_is_little_endian() {
  const uint16_t one = 1;
  uint8_t first = 0;
  std::memcpy(&first, &one, 1);
  return first == 1;
}

// Bytes per element of a number/bool type; 0 for string and array.
uint64_t scalar_width(GgufValueType t) {
  switch (t) {
    case GgufValueType::U8: case GgufValueType::I8: case GgufValueType::Bool: return 1;
    case GgufValueType::U16: case GgufValueType::I16: return 2;
    case GgufValueType::U32: case GgufValueType::I32: case GgufValueType::F32: return 4;
    case GgufValueType::U64: case GgufValueType::I64: case GgufValueType::F64: return 8;
    default: return 0;
  }
}

std::string describe(const GgufValue& v) {
  if (const auto* a = std::get_if<GgufArray>(&v)) return "array of " + gguf_value_type_name(a->element_type);
  return gguf_value_type_name(gguf_type_of(v));
}

std::string errno_text() { return std::strerror(errno); }

}  // namespace

std::string gguf_value_type_name(GgufValueType type) {
  static const char* const kNames[] = {"uint8", "int8",  "uint16", "int16",  "uint32", "int32",  "float32",
                                       "bool",  "string", "array", "uint64", "int64",  "float64"};
  const auto id = static_cast<uint32_t>(type);
  return id <= kMaxValueType ? std::string(kNames[id]) : fmt::format("value type {}", id);
}

void gguf_throw_wrong_element_type(GgufValueType expected, GgufValueType found) {
  throw Error(fmt::format("GGUF array: wrong element type (expected array of {}, found array of {})",
                          gguf_value_type_name(expected), gguf_value_type_name(found)));
}

size_t GgufArray::size() const {
  if (element_type == GgufValueType::String) return strings.size();
  if (element_type == GgufValueType::Array) return arrays.size();
  const uint64_t w = scalar_width(element_type);
  return w == 0 ? 0 : scalars.size() / w;
}

// ---- mapping ----

ReadOnlyMapping::ReadOnlyMapping(const std::string& path) {
  const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  check(fd >= 0, "{}: cannot open ({})", path, errno_text());
  struct stat st {};
  if (::fstat(fd, &st) != 0) {
    const std::string why = errno_text();
    ::close(fd);
    throw Error(fmt::format("{}: cannot stat ({})", path, why));
  }
  if (!S_ISREG(st.st_mode)) {
    ::close(fd);
    throw Error(fmt::format("{}: not a regular file", path));
  }
  size_ = static_cast<uint64_t>(st.st_size);
  if (size_ == 0) {  // mmap rejects length 0; an empty file is simply empty
    ::close(fd);
    return;
  }
  void* map = ::mmap(nullptr, size_, PROT_READ, MAP_PRIVATE, fd, 0);
  const std::string why = map == MAP_FAILED ? errno_text() : std::string();
  ::close(fd);  // the mapping keeps the file referenced
  if (map == MAP_FAILED) {
    size_ = 0;
    throw Error(fmt::format("{}: mmap failed ({})", path, why));
  }
  data_ = static_cast<const uint8_t*>(map);
}

ReadOnlyMapping::~ReadOnlyMapping() {
  if (data_ != nullptr) ::munmap(const_cast<uint8_t*>(data_), size_);
}

ReadOnlyMapping::ReadOnlyMapping(ReadOnlyMapping&& other) noexcept : data_(other.data_), size_(other.size_) {
  other.data_ = nullptr;
  other.size_ = 0;
}

ReadOnlyMapping& ReadOnlyMapping::operator=(ReadOnlyMapping&& other) noexcept {
  if (this != &other) {
    if (data_ != nullptr) ::munmap(const_cast<uint8_t*>(data_), size_);
    data_ = other.data_;
    size_ = other.size_;
    other.data_ = nullptr;
    other.size_ = 0;
  }
  return *this;
}

// ---- parser ----

// Walks the header once with a single cursor. Every read checks the bytes left first, so no
// field, length or count taken from the file can move a read outside [0, size).
class GgufParser {
 public:
  explicit GgufParser(GgufFile& f) : f_(f), base_(f.map_.data()), size_(f.map_.size()) {}

  void parse() {
    parse_header();
    parse_metadata();
    parse_alignment();
    parse_tensor_infos();
    // The data section starts at the first aligned byte after the tensor records (it may lie
    // past the end of a file without tensors; only tensors' ranges are checked against the size).
    f_.data_start_ = align_up(pos_, f_.alignment_);
    check_tensor_data();
  }

 private:
  [[noreturn]] void fail(uint64_t at, const std::string& reason) const {
    throw Error(fmt::format("{}: {} at byte {}: {}", f_.path_, what_, at, reason));
  }

  uint64_t left() const { return size_ - pos_; }

  void need(uint64_t n, const char* field) const {
    if (n > left())
      fail(pos_, fmt::format("truncated {} (expected {} bytes, found {} before the end of the {}-byte file)", field, n,
                             left(), size_));
  }

  template <typename T>
  T read(const char* field) {
    need(sizeof(T), field);
    T v;
    std::memcpy(&v, base_ + pos_, sizeof(T));  // the host is little-endian (checked in open)
    pos_ += sizeof(T);
    return v;
  }

  std::string read_string(const char* field) {
    const uint64_t at = pos_;
    const auto len = read<uint64_t>(field);
    if (len > left())
      fail(at, fmt::format("{} length {} runs past the end of the file (expected at most {} bytes left, found {})",
                           field, len, left(), len));
    std::string s(reinterpret_cast<const char*>(base_ + pos_), len);
    pos_ += len;
    return s;
  }

  GgufValueType read_value_type(const char* field) {
    const uint64_t at = pos_;
    const auto id = read<uint32_t>(field);
    if (id > kMaxValueType) fail(at, fmt::format("unknown {} {} (expected 0 to {})", field, id, kMaxValueType));
    return static_cast<GgufValueType>(id);
  }

  GgufValue read_value(GgufValueType type) {
    switch (type) {
      case GgufValueType::U8: return read<uint8_t>("uint8 value");
      case GgufValueType::I8: return read<int8_t>("int8 value");
      case GgufValueType::U16: return read<uint16_t>("uint16 value");
      case GgufValueType::I16: return read<int16_t>("int16 value");
      case GgufValueType::U32: return read<uint32_t>("uint32 value");
      case GgufValueType::I32: return read<int32_t>("int32 value");
      case GgufValueType::F32: return read<float>("float32 value");
      case GgufValueType::Bool: return read<uint8_t>("bool value") != 0;
      case GgufValueType::String: return read_string("string value");
      case GgufValueType::Array: return read_array(1);
      case GgufValueType::U64: return read<uint64_t>("uint64 value");
      case GgufValueType::I64: return read<int64_t>("int64 value");
      case GgufValueType::F64: return read<double>("float64 value");
    }
    fail(pos_, "unreachable value type");
  }

  GgufArray read_array(int depth) {
    if (depth > kMaxArrayDepth)
      fail(pos_, fmt::format("arrays nested too deeply (expected at most {} levels, found more)", kMaxArrayDepth));
    GgufArray a;
    a.element_type = read_value_type("array element type");
    const uint64_t count_at = pos_;
    const auto n = read<uint64_t>("array count");
    const uint64_t w = scalar_width(a.element_type);
    const uint64_t min_bytes = w != 0 ? w : a.element_type == GgufValueType::String ? 8 : 4 + 8;
    if (n > left() / min_bytes)
      fail(count_at, fmt::format("array count {} cannot fit in the rest of the file (expected at most {} {} "
                                 "elements of at least {} bytes in the {} bytes left)",
                                 n, left() / min_bytes, gguf_value_type_name(a.element_type), min_bytes, left()));
    if (w != 0) {
      a.scalars.assign(base_ + pos_, base_ + pos_ + n * w);  // n·w ≤ left(), checked above
      pos_ += n * w;
    } else if (a.element_type == GgufValueType::String) {
      a.strings.reserve(n);
      for (uint64_t i = 0; i < n; ++i) a.strings.push_back(read_string("array string"));
    } else {
      a.arrays.reserve(n);
      for (uint64_t i = 0; i < n; ++i) a.arrays.push_back(read_array(depth + 1));
    }
    return a;
  }

  void parse_header() {
    what_ = "header";
    need(4, "magic");
    if (std::memcmp(base_, "GGUF", 4) != 0)
      fail(0, fmt::format("not a GGUF file (expected magic 47 47 55 46 \"GGUF\", found {:02x} {:02x} {:02x} {:02x})",
                          base_[0], base_[1], base_[2], base_[3]));
    pos_ = 4;
    const auto version = read<uint32_t>("version");
    if (version != 2 && version != 3) {
      // A big-endian file's version reads byte-swapped here (3 → 0x03000000).
      const bool swapped = (version & 0xFFFFu) == 0 && (version >> 24) >= 2 && (version >> 24) <= 3;
      fail(4, fmt::format("unsupported GGUF version {} (expected 2 or 3, found {}){}", version, version,
                          swapped ? "; this looks like a big-endian file, which is not supported" : ""));
    }
    f_.version_ = version;
    tensor_count_ = read<uint64_t>("tensor count");
    kv_count_ = read<uint64_t>("kv count");
    if (tensor_count_ > left() / kMinTensorBytes)
      fail(8, fmt::format("tensor count {} cannot fit in the rest of the file (expected at most {} records of at "
                          "least {} bytes in {} bytes)",
                          tensor_count_, left() / kMinTensorBytes, kMinTensorBytes, left()));
    if (kv_count_ > left() / kMinKvBytes)
      fail(16, fmt::format("kv count {} cannot fit in the rest of the file (expected at most {} pairs of at least "
                           "{} bytes in {} bytes)",
                           kv_count_, left() / kMinKvBytes, kMinKvBytes, left()));
  }

  void parse_metadata() {
    f_.keys_.reserve(kv_count_);
    for (uint64_t i = 0; i < kv_count_; ++i) {
      what_ = fmt::format("key #{}", i);
      const uint64_t at = pos_;
      std::string key = read_string("key");
      what_ = fmt::format("key '{}'", key);
      auto it = f_.values_.find(key);
      if (it != f_.values_.end()) fail(at, fmt::format("duplicate key (first at byte {})", it->second.offset));
      const GgufValueType type = read_value_type("value type");
      GgufFile::Entry e{read_value(type), at};
      f_.keys_.push_back(key);
      f_.values_.emplace(std::move(key), std::move(e));
    }
  }

  void parse_alignment() {
    f_.alignment_ = kDefaultAlignment;
    auto it = f_.values_.find("general.alignment");
    if (it == f_.values_.end()) return;
    what_ = "key 'general.alignment'";
    const uint32_t* a = std::get_if<uint32_t>(&it->second.value);
    if (a == nullptr) fail(it->second.offset, fmt::format("wrong type (expected uint32, found {})", describe(it->second.value)));
    if (*a == 0 || (*a & (*a - 1)) != 0)
      fail(it->second.offset, fmt::format("alignment {} is not a power of two (expected 1, 2, 4, ..., found {})", *a, *a));
    f_.alignment_ = *a;
  }

  void parse_tensor_infos() {
    what_ = "header";
    if (tensor_count_ > left() / kMinTensorBytes)
      fail(8, fmt::format("tensor count {} cannot fit in the {} bytes after the metadata (expected at most {} "
                          "records of at least {} bytes; truncated file?)",
                          tensor_count_, left(), left() / kMinTensorBytes, kMinTensorBytes));
    f_.tensors_.reserve(tensor_count_);
    offset_at_.reserve(tensor_count_);
    for (uint64_t i = 0; i < tensor_count_; ++i) {
      what_ = fmt::format("tensor #{}", i);
      GgufTensorInfo t;
      t.info_offset = pos_;
      t.name = read_string("tensor name");
      what_ = fmt::format("tensor '{}'", t.name);
      auto dup = f_.tensor_index_.find(t.name);
      if (dup != f_.tensor_index_.end())
        fail(t.info_offset, fmt::format("duplicate tensor name (first record at byte {})",
                                        f_.tensors_[dup->second].info_offset));

      const uint64_t dims_at = pos_;
      const auto n_dims = read<uint32_t>("n_dims");
      if (n_dims == 0 || n_dims > kMaxDims)
        fail(dims_at, fmt::format("n_dims out of range (expected 1 to {}, found {})", kMaxDims, n_dims));
      const uint64_t ne0_at = pos_;
      uint64_t n_elements = 1;
      for (uint32_t d = 0; d < n_dims; ++d) {
        const uint64_t at = pos_;
        const auto ne = read<uint64_t>("dimension");
        if (ne == 0) fail(at, fmt::format("ne[{}] is 0 (expected every dimension ≥ 1, found 0)", d));
        // ggml counts elements in int64: the product must stay below 2^63.
        if (ne > static_cast<uint64_t>(std::numeric_limits<int64_t>::max()) / n_elements)
          fail(at, fmt::format("element count overflows int64 at ne[{}] = {} (expected a product below 2^63)", d, ne));
        n_elements *= ne;
        t.ne.push_back(ne);
      }
      t.n_elements = n_elements;
      for (auto it = t.ne.rbegin(); it != t.ne.rend(); ++it) t.shape.push_back(static_cast<int64_t>(*it));

      const uint64_t type_at = pos_;
      const auto type_id = read<uint32_t>("ggml type");
      const GgmlTypeTraits* traits = ggml_type_traits(type_id);
      if (traits == nullptr) fail(type_at, fmt::format("unknown ggml type id {} (expected a type ggml has)", type_id));
      t.type = traits->type;
      if (t.ne[0] % traits->block_size != 0)
        fail(ne0_at, fmt::format("row length ne[0] = {} is not a whole number of {} blocks (expected a multiple of "
                                 "{}, found {})",
                                 t.ne[0], traits->name, traits->block_size, t.ne[0]));
      if (n_elements / traits->block_size > std::numeric_limits<uint64_t>::max() / traits->type_size)
        fail(ne0_at, fmt::format("byte size of {} {} elements overflows 64 bits", n_elements, traits->name));
      t.n_bytes = n_elements / traits->block_size * traits->type_size;

      offset_at_.push_back(pos_);
      t.offset = read<uint64_t>("data offset");
      f_.tensor_index_.emplace(t.name, f_.tensors_.size());
      f_.tensors_.push_back(std::move(t));
    }
  }

  static uint64_t align_up(uint64_t x, uint64_t a) { return x % a == 0 ? x : x + (a - x % a); }

  void check_tensor_data() {
    const uint64_t start = f_.data_start_;
    const uint64_t data_size = size_ > start ? size_ - start : 0;
    for (size_t i = 0; i < f_.tensors_.size(); ++i) {
      GgufTensorInfo& t = f_.tensors_[i];
      what_ = fmt::format("tensor '{}'", t.name);
      if (t.offset % f_.alignment_ != 0)
        fail(offset_at_[i], fmt::format("data offset {} is not aligned (expected a multiple of {}, found remainder {})",
                                        t.offset, f_.alignment_, t.offset % f_.alignment_));
      if (t.offset > data_size || t.n_bytes > data_size - t.offset)
        fail(offset_at_[i], fmt::format("data (offset {}, {} bytes of {}) runs past the end of the file (expected at "
                                        "most {} data bytes after byte {}, found the file ends at byte {})",
                                        t.offset, t.n_bytes, ggml_type_name(t.type), data_size, start, size_));
      t.file_offset = start + t.offset;
    }
    // No two tensors may share bytes: walk them in offset order.
    std::vector<size_t> order(f_.tensors_.size());
    std::iota(order.begin(), order.end(), size_t{0});
    std::sort(order.begin(), order.end(),
              [&](size_t a, size_t b) { return f_.tensors_[a].offset < f_.tensors_[b].offset; });
    for (size_t k = 1; k < order.size(); ++k) {
      const GgufTensorInfo& prev = f_.tensors_[order[k - 1]];
      const GgufTensorInfo& t = f_.tensors_[order[k]];
      if (prev.offset + prev.n_bytes > t.offset) {
        what_ = fmt::format("tensor '{}'", t.name);
        fail(offset_at_[order[k]], fmt::format("data at offset {} overlaps tensor '{}' (expected offset ≥ {}, found {})",
                                               t.offset, prev.name, prev.offset + prev.n_bytes, t.offset));
      }
    }
  }

  GgufFile& f_;
  const uint8_t* base_;
  uint64_t size_;
  uint64_t pos_ = 0;
  std::string what_ = "header";  // what is being read, for messages
  uint64_t tensor_count_ = 0;
  uint64_t kv_count_ = 0;
  std::vector<uint64_t> offset_at_;  // file offset of each tensor's data-offset field
};

// ---- GgufFile ----

GgufFile GgufFile::open(const std::string& path) {
  check(host_is_little_endian(), "{}: GGUF reading needs a little-endian host", path);
  GgufFile f;
  f.path_ = path;
  f.map_ = ReadOnlyMapping(path);
  GgufParser(f).parse();
  return f;
}

const GgufFile::Entry& GgufFile::entry(const std::string& key) const {
  auto it = values_.find(key);
  if (it == values_.end()) throw Error(fmt::format("{}: no key '{}' (the file has {} keys)", path_, key, keys_.size()));
  return it->second;
}

void GgufFile::wrong_type(const std::string& key, const std::string& expected) const {
  const Entry& e = entry(key);
  throw Error(fmt::format("{}: key '{}' at byte {}: wrong type (expected {}, found {})", path_, key, e.offset, expected,
                          describe(e.value)));
}

const GgufValue& GgufFile::value(const std::string& key) const { return entry(key).value; }

const std::vector<std::string>& GgufFile::get_string_array(const std::string& key) const {
  const GgufArray& a = get_array(key);
  if (a.element_type != GgufValueType::String) wrong_type(key, "array of string");
  return a.strings;
}

const GgufTensorInfo& GgufFile::tensor(const std::string& name) const {
  auto it = tensor_index_.find(name);
  if (it == tensor_index_.end())
    throw Error(fmt::format("{}: no tensor named '{}' (the file has {} tensors)", path_, name, tensors_.size()));
  return tensors_[it->second];
}

std::vector<float> GgufFile::dequantize(const std::string& name) const {
  const GgufTensorInfo& t = tensor(name);
  std::vector<float> out(t.n_elements);
  try {
    gguf_dequantize(t.type, data(t), t.n_elements, out.data());
  } catch (const Error& e) {
    throw Error(fmt::format("{}: tensor '{}' at byte {}: {}", path_, name, t.file_offset, e.what()));
  }
  return out;
}

}  // namespace arena
