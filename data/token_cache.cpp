#include "data/token_cache.h"

#include <hdf5.h>

#include <filesystem>

#include "common/error.h"

namespace arena {
namespace {

constexpr int32_t kVersion = 1;

// The HDF5 error helper: a negative return is turned into an error naming the file and the step.
template <typename T>
T h5(T result, const char* what, const std::string& path) {
  if (result < 0) throw Error(fmt::format("{}: HDF5 {} failed", path, what));
  return result;
}

// Closes an HDF5 handle on scope exit.
struct Handle {
  hid_t id;
  herr_t (*close)(hid_t);
  ~Handle() {
    if (id >= 0) close(id);
  }
};

template <typename T>
hid_t h5_type();
template <>
hid_t h5_type<int32_t>() { return H5T_NATIVE_INT32; }
template <>
hid_t h5_type<int64_t>() { return H5T_NATIVE_INT64; }
template <>
hid_t h5_type<uint8_t>() { return H5T_NATIVE_UINT8; }

template <typename T>
void write_vector(hid_t file, const char* name, const std::vector<T>& v, const std::string& path) {
  const hsize_t dims[1] = {v.size()};
  Handle space{h5(H5Screate_simple(1, dims, nullptr), "create dataspace", path), H5Sclose};
  Handle set{h5(H5Dcreate2(file, name, h5_type<T>(), space.id, H5P_DEFAULT, H5P_DEFAULT, H5P_DEFAULT),
                fmt::format("create /{}", name).c_str(), path),
             H5Dclose};
  if (!v.empty()) h5(H5Dwrite(set.id, h5_type<T>(), H5S_ALL, H5S_ALL, H5P_DEFAULT, v.data()), "write", path);
}

template <typename T>
std::vector<T> read_vector(hid_t file, const char* name, const std::string& path) {
  check(H5Lexists(file, name, H5P_DEFAULT) > 0, "{}: token cache lacks dataset /{}", path, name);
  Handle set{h5(H5Dopen2(file, name, H5P_DEFAULT), fmt::format("open /{}", name).c_str(), path), H5Dclose};
  Handle space{h5(H5Dget_space(set.id), "get dataspace", path), H5Sclose};
  hsize_t dims[1] = {0};
  check(H5Sget_simple_extent_ndims(space.id) == 1, "{}: dataset /{} is not one-dimensional", path, name);
  H5Sget_simple_extent_dims(space.id, dims, nullptr);
  std::vector<T> v(dims[0]);
  if (!v.empty()) h5(H5Dread(set.id, h5_type<T>(), H5S_ALL, H5S_ALL, H5P_DEFAULT, v.data()), "read", path);
  return v;
}

template <typename T>
void write_attr(hid_t file, const char* name, T value, const std::string& path) {
  Handle space{h5(H5Screate(H5S_SCALAR), "create scalar", path), H5Sclose};
  Handle attr{h5(H5Acreate2(file, name, h5_type<T>(), space.id, H5P_DEFAULT, H5P_DEFAULT), "create attribute", path),
              H5Aclose};
  h5(H5Awrite(attr.id, h5_type<T>(), &value), "write attribute", path);
}

template <typename T>
T read_attr(hid_t file, const char* name, const std::string& path) {
  check(H5Aexists(file, name) > 0, "{}: token cache lacks attribute '{}'", path, name);
  Handle attr{h5(H5Aopen(file, name, H5P_DEFAULT), "open attribute", path), H5Aclose};
  T value{};
  h5(H5Aread(attr.id, h5_type<T>(), &value), "read attribute", path);
  return value;
}

}  // namespace

bool CacheKey::operator==(const CacheKey& o) const {
  return encoder_fingerprint == o.encoder_fingerprint && source_size == o.source_size &&
         source_mtime_ns == o.source_mtime_ns && label_mode == o.label_mode && format == o.format;
}

TokenizedData tokenize(const Dataset& data, const PairEncoder& encoder) {
  TokenizedData t;
  t.offsets.push_back(0);
  for (const auto& p : data.pairs) {
    const auto e = encoder.encode(p);
    t.ids.insert(t.ids.end(), e.ids.begin(), e.ids.end());
    t.offsets.push_back(static_cast<int64_t>(t.ids.size()));
    t.full_length.push_back(e.full_length);
    t.labels.push_back(e.label);
    t.row_ids.push_back(p.id);
  }
  return t;
}

CacheKey cache_key(const std::string& source, const ReadOptions& options, DataFormat format, const PairEncoder& encoder) {
  namespace fs = std::filesystem;
  CacheKey k;
  k.encoder_fingerprint = encoder.fingerprint() ^ options.seed;
  k.source_size = fs::file_size(source);
  k.source_mtime_ns = static_cast<int64_t>(fs::last_write_time(source).time_since_epoch().count());
  k.label_mode = static_cast<int32_t>(options.labels);
  k.format = static_cast<int32_t>(format);
  return k;
}

void save_token_cache(const std::string& path, const TokenizedData& d, const CacheKey& key) {
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);  // errors are reported by h5(), not printed by HDF5
  const std::string tmp = path + ".tmp";
  {
    Handle file{h5(H5Fcreate(tmp.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT), "create", tmp), H5Fclose};
    write_vector(file.id, "ids", d.ids, tmp);
    write_vector(file.id, "offsets", d.offsets, tmp);
    write_vector(file.id, "full_length", d.full_length, tmp);
    write_vector(file.id, "labels", d.labels, tmp);
    std::vector<uint8_t> bytes;
    std::vector<int64_t> id_offsets{0};
    for (const auto& id : d.row_ids) {
      bytes.insert(bytes.end(), id.begin(), id.end());
      id_offsets.push_back(static_cast<int64_t>(bytes.size()));
    }
    write_vector(file.id, "row_ids", bytes, tmp);
    write_vector(file.id, "row_id_offsets", id_offsets, tmp);
    write_attr<int32_t>(file.id, "version", kVersion, tmp);
    write_attr<int64_t>(file.id, "encoder_fingerprint", static_cast<int64_t>(key.encoder_fingerprint), tmp);
    write_attr<int64_t>(file.id, "source_size", static_cast<int64_t>(key.source_size), tmp);
    write_attr<int64_t>(file.id, "source_mtime_ns", key.source_mtime_ns, tmp);
    write_attr<int32_t>(file.id, "label_mode", key.label_mode, tmp);
    write_attr<int32_t>(file.id, "format", key.format, tmp);
  }
  std::filesystem::rename(tmp, path);
}

bool load_token_cache(const std::string& path, const CacheKey& key, TokenizedData& out) {
  if (!std::filesystem::exists(path)) return false;
  H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr);
  Handle file{h5(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), "open (not an HDF5 file?)", path), H5Fclose};
  if (read_attr<int32_t>(file.id, "version", path) != kVersion) return false;
  CacheKey stored;
  stored.encoder_fingerprint = static_cast<uint64_t>(read_attr<int64_t>(file.id, "encoder_fingerprint", path));
  stored.source_size = static_cast<uint64_t>(read_attr<int64_t>(file.id, "source_size", path));
  stored.source_mtime_ns = read_attr<int64_t>(file.id, "source_mtime_ns", path);
  stored.label_mode = read_attr<int32_t>(file.id, "label_mode", path);
  stored.format = read_attr<int32_t>(file.id, "format", path);
  if (!(stored == key)) return false;
  TokenizedData d;
  d.ids = read_vector<int32_t>(file.id, "ids", path);
  d.offsets = read_vector<int64_t>(file.id, "offsets", path);
  d.full_length = read_vector<int64_t>(file.id, "full_length", path);
  d.labels = read_vector<int32_t>(file.id, "labels", path);
  const auto bytes = read_vector<uint8_t>(file.id, "row_ids", path);
  const auto id_offsets = read_vector<int64_t>(file.id, "row_id_offsets", path);
  const size_t n = d.labels.size();
  check(d.offsets.size() == n + 1 && d.full_length.size() == n && id_offsets.size() == n + 1 &&
            (n == 0 || (d.offsets.back() == static_cast<int64_t>(d.ids.size()) &&
                        id_offsets.back() == static_cast<int64_t>(bytes.size()))),
        "{}: token cache datasets disagree in size (truncated or corrupt file)", path);
  for (size_t k = 0; k < n; ++k)
    d.row_ids.emplace_back(bytes.begin() + id_offsets[k], bytes.begin() + id_offsets[k + 1]);
  out = std::move(d);
  return true;
}

}  // namespace arena
