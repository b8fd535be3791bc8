// GGUF files (llama.cpp's model format, versions 2 and 3, little-endian): memory-mapped reading
// of the metadata and the tensor table, and fp32 dequantization of a tensor.
//
// Layout (all integers little-endian):
//   "GGUF"  uint32 version  uint64 tensor_count  uint64 kv_count
//   kv_count  × { string key, uint32 value_type, value }
//   tensor_count × { string name, uint32 n_dims, uint64 ne[n_dims], uint32 ggml_type, uint64 offset }
//   padding to `general.alignment` (uint32, a power of two, default 32)
//   data section: each tensor at data_start + offset (offset a multiple of the alignment)
// A string is uint64 length + that many bytes (no terminator); an array is uint32 element type +
// uint64 count + the elements (arrays of strings and of arrays included).
//
// Every read goes through one bounds-checked cursor: a damaged or hostile file throws
// arena::Error, never reads outside the mapping. Messages read
//   <path>: <what> at byte <offset>: <reason> (expected X, found Y)
// where <what> is "header", "key 'name'" or "tensor 'name'" (or "key #i" / "tensor #i" while the
// name itself is being read) and <offset> is where in the file the bad field starts.
// No torch: tensors come out as pointer + byte size, or as fp32 vectors.
#pragma once

#include <cstdint>
#include <cstring>
#include <map>
#include <string>
#include <type_traits>
#include <variant>
#include <vector>

#include "model/quant/gguf_quants.h"

namespace arena {

// Whether `path` names a GGUF file (by its .gguf extension, as llama.cpp's tools do).
bool is_gguf_path(const std::string& path);

class GgufFile;
// GgufFile::open for a model the user named; a missing file's error also says how the project's
// default model (the real Gemma-3-270M) is installed.
GgufFile open_gguf_model(const std::string& path);

// The metadata value types, with GGUF's ids.
enum class GgufValueType : uint32_t {
  U8 = 0, I8 = 1, U16 = 2, I16 = 3, U32 = 4, I32 = 5, F32 = 6, Bool = 7, String = 8, Array = 9,
  U64 = 10, I64 = 11, F64 = 12,
};

// "uint32", "string", "array", ... (as the GGUF spec names them); "value type 99" if unknown.
std::string gguf_value_type_name(GgufValueType type);

// A metadata array. Elements are kept compactly by kind: numbers and bools as the file's
// little-endian bytes (`size()` × element width in `scalars`), strings in `strings`, nested
// arrays in `arrays`; the two unused vectors stay empty.
struct GgufArray {
  GgufValueType element_type = GgufValueType::U8;
  std::vector<uint8_t> scalars;
  std::vector<std::string> strings;
  std::vector<GgufArray> arrays;

  size_t size() const;

  // The elements as T, which must be the C++ type of element_type (uint8_t ... double, bool);
  // throws arena::Error "(expected array of X, found array of Y)" otherwise. Strings and nested
  // arrays are read from `strings` / `arrays` directly.
  template <typename T>
  std::vector<T> to_vector() const;
};

// One metadata value; the variant's index is the GgufValueType id, so
// static_cast<GgufValueType>(value.index()) is its type.
using GgufValue = std::variant<uint8_t, int8_t, uint16_t, int16_t, uint32_t, int32_t, float, bool,
                               std::string, GgufArray, uint64_t, int64_t, double>;

inline GgufValueType gguf_type_of(const GgufValue& v) { return static_cast<GgufValueType>(v.index()); }

// The GgufValueType whose C++ type is T (uint32_t → U32, std::string → String, ...).
template <typename T>
constexpr GgufValueType gguf_value_type_of() {
  if constexpr (std::is_same_v<T, uint8_t>) return GgufValueType::U8;
  else if constexpr (std::is_same_v<T, int8_t>) return GgufValueType::I8;
  else if constexpr (std::is_same_v<T, uint16_t>) return GgufValueType::U16;
  else if constexpr (std::is_same_v<T, int16_t>) return GgufValueType::I16;
  else if constexpr (std::is_same_v<T, uint32_t>) return GgufValueType::U32;
  else if constexpr (std::is_same_v<T, int32_t>) return GgufValueType::I32;
  else if constexpr (std::is_same_v<T, float>) return GgufValueType::F32;
  else if constexpr (std::is_same_v<T, bool>) return GgufValueType::Bool;
  else if constexpr (std::is_same_v<T, std::string>) return GgufValueType::String;
  else if constexpr (std::is_same_v<T, GgufArray>) return GgufValueType::Array;
  else if constexpr (std::is_same_v<T, uint64_t>) return GgufValueType::U64;
  else if constexpr (std::is_same_v<T, int64_t>) return GgufValueType::I64;
  else {
    static_assert(std::is_same_v<T, double>, "not a GGUF value type");
    return GgufValueType::F64;
  }
}

// Throws arena::Error "array element type is X, not Y (expected array of Y, found array of X)".
[[noreturn]] void gguf_throw_wrong_element_type(GgufValueType expected, GgufValueType found);

struct GgufTensorInfo {
  std::string name;
  std::vector<uint64_t> ne;    // as stored: ne[0] is the fastest-varying dimension (row length)
  std::vector<int64_t> shape;  // torch order, ne reversed: [rows..., row length]
  GgmlType type = GgmlType::F32;
  uint64_t offset = 0;         // bytes from the start of the data section, as stored
  uint64_t file_offset = 0;    // bytes from the start of the file
  uint64_t n_elements = 0;     // product of ne, ≥ 1
  uint64_t n_bytes = 0;        // ggml_n_bytes(type, n_elements)
  uint64_t info_offset = 0;    // where this tensor's record starts in the header (for messages)
};

// A read-only memory mapping of a whole file; unmapped by the destructor. Movable, not copyable.
// An empty file maps to data() == nullptr, size() == 0.
class ReadOnlyMapping {
 public:
  ReadOnlyMapping() = default;
  // Throws arena::Error naming `path` if it cannot be opened, stat'ed or mapped.
  explicit ReadOnlyMapping(const std::string& path);
  ~ReadOnlyMapping();
  ReadOnlyMapping(ReadOnlyMapping&& other) noexcept;
  ReadOnlyMapping& operator=(ReadOnlyMapping&& other) noexcept;
  ReadOnlyMapping(const ReadOnlyMapping&) = delete;
  ReadOnlyMapping& operator=(const ReadOnlyMapping&) = delete;

  const uint8_t* data() const { return data_; }
  uint64_t size() const { return size_; }

 private:
  const uint8_t* data_ = nullptr;
  uint64_t size_ = 0;
};

// One GGUF file, mapped read-only and validated as a whole by open(): header, every metadata
// value, every tensor record (name unique, 1-4 dims each ≥ 1, element count without overflow and
// a whole number of blocks per row, known type id, offset aligned, data inside the file, no two
// tensors overlapping). Pointers returned by data() stay valid while this object (or the one it
// was moved into) lives. Movable, not copyable.
class GgufFile {
 public:
  // Throws arena::Error (message format in the file comment) on any inconsistency.
  static GgufFile open(const std::string& path);

  GgufFile(GgufFile&&) noexcept = default;
  GgufFile& operator=(GgufFile&&) noexcept = default;
  GgufFile(const GgufFile&) = delete;
  GgufFile& operator=(const GgufFile&) = delete;

  const std::string& path() const { return path_; }
  uint32_t version() const { return version_; }
  uint64_t file_size() const { return map_.size(); }
  uint32_t alignment() const { return alignment_; }
  uint64_t data_start() const { return data_start_; }  // file offset of the data section

  // ---- metadata ----
  // Keys in file order (the header's version and counts are not keys).
  const std::vector<std::string>& keys() const { return keys_; }
  bool has(const std::string& key) const { return values_.count(key) > 0; }
  // The value of `key`; throws arena::Error naming the key if it is absent.
  const GgufValue& value(const std::string& key) const;
  GgufValueType type_of(const std::string& key) const { return gguf_type_of(value(key)); }

  // Typed getters: each throws arena::Error naming the file, the key and its byte offset when the
  // key is absent or of another type ("(expected uint32, found string)"). No conversions.
  uint8_t get_u8(const std::string& key) const { return get<uint8_t>(key); }
  int8_t get_i8(const std::string& key) const { return get<int8_t>(key); }
  uint16_t get_u16(const std::string& key) const { return get<uint16_t>(key); }
  int16_t get_i16(const std::string& key) const { return get<int16_t>(key); }
  uint32_t get_u32(const std::string& key) const { return get<uint32_t>(key); }
  int32_t get_i32(const std::string& key) const { return get<int32_t>(key); }
  uint64_t get_u64(const std::string& key) const { return get<uint64_t>(key); }
  int64_t get_i64(const std::string& key) const { return get<int64_t>(key); }
  float get_f32(const std::string& key) const { return get<float>(key); }
  double get_f64(const std::string& key) const { return get<double>(key); }
  bool get_bool(const std::string& key) const { return get<bool>(key); }
  const std::string& get_string(const std::string& key) const { return get<std::string>(key); }
  const GgufArray& get_array(const std::string& key) const { return get<GgufArray>(key); }
  // Arrays of one element type; same errors ("(expected array of float32, found array of int32)").
  const std::vector<std::string>& get_string_array(const std::string& key) const;
  std::vector<float> get_f32_array(const std::string& key) const { return get_typed_array<float>(key); }
  std::vector<int32_t> get_i32_array(const std::string& key) const { return get_typed_array<int32_t>(key); }
  std::vector<uint32_t> get_u32_array(const std::string& key) const { return get_typed_array<uint32_t>(key); }

  // ---- tensors ----
  // Records in file order.
  const std::vector<GgufTensorInfo>& tensors() const { return tensors_; }
  bool has_tensor(const std::string& name) const { return tensor_index_.count(name) > 0; }
  // Throws arena::Error naming the tensor if absent.
  const GgufTensorInfo& tensor(const std::string& name) const;
  // The tensor's info.n_bytes bytes inside the mapping (read-only, 1-byte alignment guaranteed
  // only; in practice the file's alignment).
  const uint8_t* data(const GgufTensorInfo& info) const { return map_.data() + info.file_offset; }
  // The tensor as fp32, n_elements values in ggml order (ne[0] fastest = torch's row-major
  // `shape`). Throws arena::Error naming the file and tensor if its type cannot be dequantized.
  std::vector<float> dequantize(const std::string& name) const;

 private:
  GgufFile() = default;
  struct Entry {
    GgufValue value;
    uint64_t offset = 0;  // where the key/value pair starts in the file
  };
  const Entry& entry(const std::string& key) const;
  [[noreturn]] void wrong_type(const std::string& key, const std::string& expected) const;

  template <typename T>
  const T& get(const std::string& key) const {
    const Entry& e = entry(key);
    if (const T* v = std::get_if<T>(&e.value)) return *v;
    wrong_type(key, gguf_value_type_name(gguf_value_type_of<T>()));
  }
  template <typename T>
  std::vector<T> get_typed_array(const std::string& key) const;

  friend class GgufParser;

  std::string path_;
  ReadOnlyMapping map_;
  uint32_t version_ = 0;
  uint32_t alignment_ = 32;
  uint64_t data_start_ = 0;
  std::vector<std::string> keys_;
  std::map<std::string, Entry> values_;
  std::vector<GgufTensorInfo> tensors_;
  std::map<std::string, size_t> tensor_index_;
};

// The file's vocabulary (tokenizer.ggml.tokens), id order; a reference into `file`.
const std::vector<std::string>& gguf_vocabulary(const GgufFile& file);

// ---- templates ----

template <typename T>
std::vector<T> GgufArray::to_vector() const {
  static_assert(std::is_arithmetic_v<T>, "to_vector is for numbers and bools; read strings/arrays directly");
  constexpr GgufValueType want = gguf_value_type_of<T>();
  if (element_type != want) {
    gguf_throw_wrong_element_type(want, element_type);
  }
  std::vector<T> out(scalars.size() / sizeof(T));
  for (size_t i = 0; i < out.size(); ++i) {
    if constexpr (std::is_same_v<T, bool>) {
      out[i] = scalars[i] != 0;
    } else {
      std::memcpy(&out[i], scalars.data() + i * sizeof(T), sizeof(T));  // host is little-endian
    }
  }
  return out;
}

template <typename T>
std::vector<T> GgufFile::get_typed_array(const std::string& key) const {
  const GgufArray& a = get_array(key);
  if (a.element_type != gguf_value_type_of<T>())
    wrong_type(key, "array of " + gguf_value_type_name(gguf_value_type_of<T>()));
  return a.to_vector<T>();
}

}  // namespace arena
