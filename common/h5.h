// The HDF5 error helper and the few typed read/write helpers shared by the token cache and the
// training checkpoints. Header-only; targets that include it link HDF5::HDF5.
// Every failure is an arena::Error naming the file and the object (dataset, attribute).
#pragma once

#include <hdf5.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "common/error.h"

namespace arena::h5 {

// The innermost message of HDF5's current error stack ("data error detected by Fletcher32
// checksum", "bad object header version number", ...), or "" when it is empty.
inline std::string error_detail() {
  std::string detail;
  H5Ewalk2(
      H5E_DEFAULT, H5E_WALK_UPWARD,
      [](unsigned n, const H5E_error2_t* e, void* out) -> herr_t {
        if (n == 0 && e->desc) *static_cast<std::string*>(out) = e->desc;
        return 0;
      },
      &detail);
  return detail;
}

// The HDF5 error helper: a negative return becomes an error naming the file, the step and HDF5's
// own reason.
template <typename T>
T check(T result, const std::string& what, const std::string& path) {
  if (result < 0) {
    const auto detail = error_detail();
    throw Error(fmt::format("{}: HDF5 {} failed{}", path, what, detail.empty() ? "" : ": " + detail));
  }
  return result;
}

// Silences HDF5's own error printing: failures are reported once, by check().
inline void quiet() { H5Eset_auto2(H5E_DEFAULT, nullptr, nullptr); }

// Closes an HDF5 handle on scope exit.
class Handle {
 public:
  Handle(hid_t id, herr_t (*close)(hid_t)) : id_(id), close_(close) {}
  Handle(const Handle&) = delete;
  Handle& operator=(const Handle&) = delete;
  ~Handle() {
    if (id_ >= 0) close_(id_);
  }
  hid_t id() const { return id_; }

 private:
  hid_t id_;
  herr_t (*close_)(hid_t);
};

template <typename T>
hid_t type();
template <>
inline hid_t type<int32_t>() { return H5T_NATIVE_INT32; }
template <>
inline hid_t type<int64_t>() { return H5T_NATIVE_INT64; }
template <>
inline hid_t type<uint8_t>() { return H5T_NATIVE_UINT8; }
template <>
inline hid_t type<uint64_t>() { return H5T_NATIVE_UINT64; }
template <>
inline hid_t type<float>() { return H5T_NATIVE_FLOAT; }
template <>
inline hid_t type<double>() { return H5T_NATIVE_DOUBLE; }

inline bool exists(hid_t loc, const std::string& name) { return H5Lexists(loc, name.c_str(), H5P_DEFAULT) > 0; }

// A dataset of `dims` (row-major) holding `data`. `checksum`: stored as one chunk with HDF5's
// Fletcher32 filter, which every read verifies (a flipped byte fails the read, naming the dataset).
template <typename T>
void write(hid_t loc, const std::string& name, const T* data, const std::vector<hsize_t>& dims, const std::string& path,
           bool checksum = false) {
  Handle space{check(H5Screate_simple(static_cast<int>(dims.size()), dims.data(), nullptr), "create dataspace", path),
               H5Sclose};
  hsize_t n = 1;
  for (auto d : dims) n *= d;
  Handle props{check(H5Pcreate(H5P_DATASET_CREATE), "create dataset properties", path), H5Pclose};
  if (checksum && n > 0) {
    check(H5Pset_chunk(props.id(), static_cast<int>(dims.size()), dims.data()), "chunk " + name, path);
    check(H5Pset_fletcher32(props.id()), "checksum " + name, path);
  }
  Handle set{check(H5Dcreate2(loc, name.c_str(), type<T>(), space.id(), H5P_DEFAULT, props.id(), H5P_DEFAULT),
                   "create dataset " + name, path),
             H5Dclose};
  if (n > 0) check(H5Dwrite(set.id(), type<T>(), H5S_ALL, H5S_ALL, H5P_DEFAULT, data), "write " + name, path);
}

template <typename T>
void write_vector(hid_t loc, const std::string& name, const std::vector<T>& v, const std::string& path) {
  write(loc, name, v.data(), {static_cast<hsize_t>(v.size())}, path);
}

// Shape of a dataset; an error naming it when absent.
inline std::vector<hsize_t> shape(hid_t loc, const std::string& name, const std::string& path) {
  if (!exists(loc, name)) throw Error(fmt::format("{}: missing dataset '{}'", path, name));
  Handle set{check(H5Dopen2(loc, name.c_str(), H5P_DEFAULT), "open dataset " + name, path), H5Dclose};
  Handle space{check(H5Dget_space(set.id()), "get dataspace of " + name, path), H5Sclose};
  const int rank = check(H5Sget_simple_extent_ndims(space.id()), "get rank of " + name, path);
  std::vector<hsize_t> dims(rank);
  H5Sget_simple_extent_dims(space.id(), dims.data(), nullptr);
  return dims;
}

// Reads a whole dataset into `data` (which must hold as many elements as the dataset).
template <typename T>
void read(hid_t loc, const std::string& name, T* data, const std::string& path) {
  Handle set{check(H5Dopen2(loc, name.c_str(), H5P_DEFAULT), "open dataset " + name, path), H5Dclose};
  check(H5Dread(set.id(), type<T>(), H5S_ALL, H5S_ALL, H5P_DEFAULT, data), "read " + name, path);
}

template <typename T>
std::vector<T> read_vector(hid_t loc, const std::string& name, const std::string& path) {
  const auto dims = shape(loc, name, path);
  if (dims.size() != 1) throw Error(fmt::format("{}: dataset '{}' is not one-dimensional", path, name));
  std::vector<T> v(dims[0]);
  if (!v.empty()) read(loc, name, v.data(), path);
  return v;
}

template <typename T>
void write_attr(hid_t loc, const std::string& name, T value, const std::string& path) {
  Handle space{check(H5Screate(H5S_SCALAR), "create scalar", path), H5Sclose};
  Handle attr{check(H5Acreate2(loc, name.c_str(), type<T>(), space.id(), H5P_DEFAULT, H5P_DEFAULT),
                    "create attribute " + name, path),
              H5Aclose};
  check(H5Awrite(attr.id(), type<T>(), &value), "write attribute " + name, path);
}

template <typename T>
T read_attr(hid_t loc, const std::string& name, const std::string& path) {
  if (H5Aexists(loc, name.c_str()) <= 0) throw Error(fmt::format("{}: missing attribute '{}'", path, name));
  Handle attr{check(H5Aopen(loc, name.c_str(), H5P_DEFAULT), "open attribute " + name, path), H5Aclose};
  T value{};
  check(H5Aread(attr.id(), type<T>(), &value), "read attribute " + name, path);
  return value;
}

// UTF-8 string attributes, fixed-length: stored in the object header, which the 1.8+ file format
// checksums (a variable-length string lives in the global heap, which nothing checksums, and a
// flipped length byte there crashes HDF5's reader). h5dump prints them as text, h5py as bytes.
inline void write_string_attr(hid_t loc, const std::string& name, const std::string& value, const std::string& path) {
  Handle t{check(H5Tcopy(H5T_C_S1), "copy string type", path), H5Tclose};
  check(H5Tset_size(t.id(), std::max<size_t>(1, value.size())), "set string size", path);
  check(H5Tset_strpad(t.id(), H5T_STR_NULLPAD), "set string padding", path);
  check(H5Tset_cset(t.id(), H5T_CSET_UTF8), "set string charset", path);
  Handle space{check(H5Screate(H5S_SCALAR), "create scalar", path), H5Sclose};
  Handle attr{check(H5Acreate2(loc, name.c_str(), t.id(), space.id(), H5P_DEFAULT, H5P_DEFAULT),
                    "create attribute " + name, path),
              H5Aclose};
  const std::string padded = value.empty() ? std::string(1, '\0') : value;
  check(H5Awrite(attr.id(), t.id(), padded.data()), "write attribute " + name, path);
}

// Reads fixed-length string attributes, and the variable-length ones of files written before.
inline std::string read_string_attr(hid_t loc, const std::string& name, const std::string& path) {
  if (H5Aexists(loc, name.c_str()) <= 0) throw Error(fmt::format("{}: missing attribute '{}'", path, name));
  Handle attr{check(H5Aopen(loc, name.c_str(), H5P_DEFAULT), "open attribute " + name, path), H5Aclose};
  Handle stored{check(H5Aget_type(attr.id()), "get type of attribute " + name, path), H5Tclose};
  check(H5Tget_class(stored.id()) == H5T_STRING ? 0 : -1, "read attribute " + name + " (not a string)", path);
  Handle t{check(H5Tcopy(H5T_C_S1), "copy string type", path), H5Tclose};
  check(H5Tset_cset(t.id(), H5T_CSET_UTF8), "set string charset", path);
  if (check(H5Tis_variable_str(stored.id()), "get type of attribute " + name, path) > 0) {
    check(H5Tset_size(t.id(), H5T_VARIABLE), "set string size", path);
    char* p = nullptr;
    check(H5Aread(attr.id(), t.id(), &p), "read attribute " + name, path);
    std::string out = p ? p : "";
    H5free_memory(p);
    return out;
  }
  const size_t size = H5Tget_size(stored.id());
  check(size > 0 ? 0 : -1, "get size of attribute " + name, path);
  check(H5Tset_size(t.id(), size), "set string size", path);
  check(H5Tset_strpad(t.id(), H5T_STR_NULLPAD), "set string padding", path);
  std::string out(size, '\0');
  check(H5Aread(attr.id(), t.id(), out.data()), "read attribute " + name, path);
  out.resize(out.find_last_not_of('\0') == std::string::npos ? 0 : out.find_last_not_of('\0') + 1);
  return out;
}

}  // namespace arena::h5
