// The GGUF reader: tests/fixtures/gguf/reader.gguf (written by the `gguf` package's GGUFWriter,
// see gen_gguf_fixtures.py for what it holds) read back exactly; copies of it corrupted field by
// field must each fail with a message naming the file, the key or tensor and the byte offset;
// and, when ARENA_GEMMA3_GGUF names the real Gemma-3-270M Q4_K_M file, that file.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <initializer_list>
#include <limits>
#include <map>
#include <random>
#include <string>
#include <vector>

#include "common/error.h"
#include "model/io/gguf.h"
#include "test_support.h"

namespace arena {
namespace {

namespace fs = std::filesystem;

std::string fixture_path() { return (testing::fixture_dir() / "gguf" / "reader.gguf").string(); }

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

void write_bytes(const std::string& path, const std::string& bytes) {
  // Removed first: ext4 flushes a file to disk when it is truncated and rewritten, which made the
  // loops below wait on the disk.
  std::error_code ec;
  fs::remove(path, ec);
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

std::string le(uint64_t v, int n) {
  std::string out(static_cast<size_t>(n), '\0');
  for (int i = 0; i < n; ++i) out[static_cast<size_t>(i)] = static_cast<char>((v >> (8 * i)) & 0xFF);
  return out;
}

void put_u32(std::string& b, size_t at, uint32_t v) { b.replace(at, 4, le(v, 4)); }
void put_u64(std::string& b, size_t at, uint64_t v) { b.replace(at, 8, le(v, 8)); }

// Where the GGUF string `s` (uint64 length + bytes) starts in `b`; the length prefix makes
// "t.f32" not match inside "test.f32". Fails the test unless it occurs exactly once.
size_t find_record(const std::string& b, const std::string& s) {
  const std::string needle = le(s.size(), 8) + s;
  const size_t at = b.find(needle);
  EXPECT_NE(at, std::string::npos) << s;
  EXPECT_EQ(b.find(needle, at + 1), std::string::npos) << s << " occurs twice";
  return at;
}
// The first byte after that string.
size_t after_record(const std::string& b, const std::string& s) { return find_record(b, s) + 8 + s.size(); }

// Opening `path` must throw arena::Error whose message holds every needle.
void expect_open_error(const std::string& path, std::initializer_list<std::string> needles) {
  try {
    GgufFile::open(path);
    ADD_FAILURE() << "expected arena::Error for " << path;
  } catch (const Error& e) {
    const std::string what = e.what();
    for (const auto& n : needles) EXPECT_NE(what.find(n), std::string::npos) << "'" << n << "' not in: " << what;
  }
}

void expect_error(const std::function<void()>& fn, std::initializer_list<std::string> needles) {
  try {
    fn();
    ADD_FAILURE() << "expected arena::Error";
  } catch (const Error& e) {
    const std::string what = e.what();
    for (const auto& n : needles) EXPECT_NE(what.find(n), std::string::npos) << "'" << n << "' not in: " << what;
  }
}

std::string at_byte(size_t offset) { return "at byte " + std::to_string(offset) + ":"; }

// ---------------------------------------------------------------------------------------------
// The valid fixture

TEST(Gguf, ReadsEveryMetadataValueAsWritten) {
  const GgufFile f = GgufFile::open(fixture_path());
  EXPECT_EQ(f.path(), fixture_path());
  EXPECT_EQ(f.version(), 3u);
  EXPECT_EQ(f.alignment(), 64u);
  EXPECT_EQ(f.data_start() % 64, 0u);
  ASSERT_EQ(f.keys().size(), 30u);  // GGUFReader.fields also lists GGUF.version, .tensor_count, .kv_count
  EXPECT_EQ(f.keys()[0], "general.architecture");
  EXPECT_EQ(f.keys()[1], "general.alignment");
  EXPECT_EQ(f.keys()[2], "test.u8");
  EXPECT_EQ(f.keys().back(), "test.arr_nested_str");
  EXPECT_TRUE(f.has("test.u8"));
  EXPECT_FALSE(f.has("test.missing"));

  EXPECT_EQ(f.get_string("general.architecture"), "testarch");
  EXPECT_EQ(f.get_u32("general.alignment"), 64u);
  EXPECT_EQ(f.get_u8("test.u8"), 200);
  EXPECT_EQ(f.get_i8("test.i8"), -100);
  EXPECT_EQ(f.get_u16("test.u16"), 60000);
  EXPECT_EQ(f.get_i16("test.i16"), -30000);
  EXPECT_EQ(f.get_u32("test.u32"), 4000000000u);
  EXPECT_EQ(f.get_i32("test.i32"), -2000000000);
  EXPECT_EQ(f.get_f32("test.f32"), 0.1f);
  EXPECT_EQ(f.get_u64("test.u64"), std::numeric_limits<uint64_t>::max() - 4);
  EXPECT_EQ(f.get_i64("test.i64"), -9000000000000000000LL);
  EXPECT_EQ(f.get_f64("test.f64"), 2.718281828459045);
  EXPECT_TRUE(f.get_bool("test.bool_true"));
  EXPECT_FALSE(f.get_bool("test.bool_false"));
  EXPECT_EQ(f.get_string("test.string"), "h\xc3\xa9llo, gguf \xe2\x9c\x93");
  EXPECT_EQ(f.get_string("test.empty_string"), "");

  const std::pair<const char*, GgufValueType> types[] = {
      {"test.u8", GgufValueType::U8},       {"test.i8", GgufValueType::I8},
      {"test.u16", GgufValueType::U16},     {"test.i16", GgufValueType::I16},
      {"test.u32", GgufValueType::U32},     {"test.i32", GgufValueType::I32},
      {"test.f32", GgufValueType::F32},     {"test.u64", GgufValueType::U64},
      {"test.i64", GgufValueType::I64},     {"test.f64", GgufValueType::F64},
      {"test.bool_true", GgufValueType::Bool}, {"test.string", GgufValueType::String},
      {"test.arr_u8", GgufValueType::Array},
  };
  for (const auto& [key, type] : types) EXPECT_EQ(f.type_of(key), type) << key;

  EXPECT_EQ(f.get_array("test.arr_u8").to_vector<uint8_t>(), (std::vector<uint8_t>{1, 2, 255}));
  EXPECT_EQ(f.get_array("test.arr_i8").to_vector<int8_t>(), (std::vector<int8_t>{-1, 0, 127}));
  EXPECT_EQ(f.get_array("test.arr_u16").to_vector<uint16_t>(), (std::vector<uint16_t>{0, 65535}));
  EXPECT_EQ(f.get_array("test.arr_i16").to_vector<int16_t>(), (std::vector<int16_t>{-32768, 7}));
  EXPECT_EQ(f.get_u32_array("test.arr_u32"), (std::vector<uint32_t>{1, 4294967295u, 3}));
  EXPECT_EQ(f.get_i32_array("test.arr_i32"), (std::vector<int32_t>{-5, 0, 2147483647}));
  EXPECT_EQ(f.get_f32_array("test.arr_f32"), (std::vector<float>{0.5f, -1.25f, 3e38f}));
  EXPECT_EQ(f.get_array("test.arr_u64").to_vector<uint64_t>(),
            (std::vector<uint64_t>{std::numeric_limits<uint64_t>::max(), 0}));
  EXPECT_EQ(f.get_array("test.arr_i64").to_vector<int64_t>(),
            (std::vector<int64_t>{std::numeric_limits<int64_t>::min(), 42}));
  EXPECT_EQ(f.get_array("test.arr_f64").to_vector<double>(), (std::vector<double>{1e-300, -0.1}));
  EXPECT_EQ(f.get_array("test.arr_bool").to_vector<bool>(), (std::vector<bool>{true, false, true}));
  EXPECT_EQ(f.get_string_array("test.arr_string"), (std::vector<std::string>{"a", "", "\xc3\xbcn\xc3\xaf"}));
  EXPECT_EQ(f.get_array("test.arr_u32").size(), 3u);

  const GgufArray& nested = f.get_array("test.arr_nested");
  EXPECT_EQ(nested.element_type, GgufValueType::Array);
  ASSERT_EQ(nested.size(), 2u);
  EXPECT_EQ(nested.arrays[0].to_vector<int32_t>(), (std::vector<int32_t>{1, 2}));
  EXPECT_EQ(nested.arrays[1].to_vector<int32_t>(), (std::vector<int32_t>{3, 4, 5}));
  const GgufArray& nested_str = f.get_array("test.arr_nested_str");
  ASSERT_EQ(nested_str.arrays.size(), 2u);
  EXPECT_EQ(nested_str.arrays[0].strings, (std::vector<std::string>{"x"}));
  EXPECT_EQ(nested_str.arrays[1].strings, (std::vector<std::string>{"y", "zz"}));
}

TEST(Gguf, TypedGettersNameTheKeyAndBothTypes) {
  const GgufFile f = GgufFile::open(fixture_path());
  const std::string bytes = read_bytes(fixture_path());
  const std::string string_at = std::to_string(find_record(bytes, "test.string"));
  expect_error([&] { f.get_u32("test.string"); },
               {fixture_path(), "key 'test.string' at byte " + string_at, "(expected uint32, found string)"});
  expect_error([&] { f.get_f32("test.f64"); }, {"key 'test.f64'", "(expected float32, found float64)"});
  expect_error([&] { f.get_string("test.arr_string"); }, {"(expected string, found array of string)"});
  expect_error([&] { f.get_f32_array("test.arr_i32"); },
               {"key 'test.arr_i32'", "(expected array of float32, found array of int32)"});
  expect_error([&] { f.get_string_array("test.arr_u8"); }, {"(expected array of string, found array of uint8)"});
  expect_error([&] { f.get_i32_array("test.i32"); }, {"(expected array, found int32)"});
  expect_error([&] { f.get_u8("no.such.key"); }, {fixture_path(), "no key 'no.such.key'"});
  expect_error([&] { f.get_array("test.arr_i32").to_vector<float>(); },
               {"(expected array of float32, found array of int32)"});
}

TEST(Gguf, ReadsTensorsAndTheirData) {
  const GgufFile f = GgufFile::open(fixture_path());
  ASSERT_EQ(f.tensors().size(), 3u);
  const GgufTensorInfo& a = f.tensors()[0];
  const GgufTensorInfo& b = f.tensors()[1];
  const GgufTensorInfo& c = f.tensors()[2];
  EXPECT_EQ(a.name, "t.f32");
  EXPECT_EQ(b.name, "t.f16");
  EXPECT_EQ(c.name, "t.q8_0");
  EXPECT_EQ(a.type, GgmlType::F32);
  EXPECT_EQ(b.type, GgmlType::F16);
  EXPECT_EQ(c.type, GgmlType::Q8_0);
  EXPECT_EQ(a.ne, (std::vector<uint64_t>{3, 2}));
  EXPECT_EQ(a.shape, (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(b.ne, (std::vector<uint64_t>{4, 3, 2}));
  EXPECT_EQ(b.shape, (std::vector<int64_t>{2, 3, 4}));
  EXPECT_EQ(c.ne, (std::vector<uint64_t>{64, 2}));
  EXPECT_EQ(c.shape, (std::vector<int64_t>{2, 64}));
  EXPECT_EQ(a.n_elements, 6u);
  EXPECT_EQ(b.n_elements, 24u);
  EXPECT_EQ(c.n_elements, 128u);
  EXPECT_EQ(a.n_bytes, 24u);
  EXPECT_EQ(b.n_bytes, 48u);
  EXPECT_EQ(c.n_bytes, 4u * 34u);
  // GGUFWriter packs the tensors in order, each padded to the 64-byte alignment.
  EXPECT_EQ(a.offset, 0u);
  EXPECT_EQ(b.offset, 64u);
  EXPECT_EQ(c.offset, 128u);
  EXPECT_EQ(c.file_offset, f.data_start() + 128);
  EXPECT_TRUE(f.has_tensor("t.q8_0"));
  EXPECT_FALSE(f.has_tensor("t.q4_0"));
  EXPECT_EQ(&f.tensor("t.f16"), &b);
  expect_error([&] { f.tensor("t.q4_0"); }, {fixture_path(), "no tensor named 't.q4_0'"});

  // Raw bytes and dequantized values (the formulas of gen_gguf_fixtures.py, all exact).
  std::vector<float> raw(6);
  std::memcpy(raw.data(), f.data(a), a.n_bytes);
  const std::vector<float> fa = f.dequantize("t.f32");
  for (int i = 0; i < 6; ++i) {
    EXPECT_EQ(raw[i], 0.5f * i - 1.0f) << i;
    EXPECT_EQ(fa[i], 0.5f * i - 1.0f) << i;
  }
  const std::vector<float> fb = f.dequantize("t.f16");
  ASSERT_EQ(fb.size(), 24u);
  for (int i = 0; i < 24; ++i) EXPECT_EQ(fb[i], 0.25f * i - 3.0f) << i;
  const std::vector<float> fc = f.dequantize("t.q8_0");
  ASSERT_EQ(fc.size(), 128u);
  for (int i = 0; i < 128; ++i) {
    const int q = i % 32 == 0 ? 127 : (7 * i) % 255 - 127;
    EXPECT_EQ(fc[i], 0.25f * q) << i;
  }
}

TEST(Gguf, MovingKeepsTheMappingAndData) {
  GgufFile a = GgufFile::open(fixture_path());
  const uint8_t* p = a.data(a.tensor("t.f32"));
  GgufFile b = std::move(a);
  EXPECT_EQ(b.data(b.tensor("t.f32")), p);
  EXPECT_EQ(b.dequantize("t.f32")[5], 1.5f);
  GgufFile c = GgufFile::open(fixture_path());
  c = std::move(b);  // c's own mapping is released, b's is taken over
  EXPECT_EQ(c.data(c.tensor("t.f32")), p);
  EXPECT_EQ(c.get_u8("test.u8"), 200);
}

// ---------------------------------------------------------------------------------------------
// Corrupted copies of the fixture

class GgufCorrupt : public ::testing::Test {
 protected:
  void SetUp() override {
    bytes_ = read_bytes(fixture_path());
    ASSERT_GT(bytes_.size(), 1000u);
  }
  // Writes `b` to a fresh file in the temp dir and returns its path.
  std::string write(const std::string& b) {
    const std::string path = dir_ / ("case" + std::to_string(n_++) + ".gguf");
    write_bytes(path, b);
    return path;
  }
  // Offsets inside tensor `name`'s record: n_dims, ne[d], type, offset.
  size_t n_dims_at(const std::string& name) { return after_record(bytes_, name); }
  size_t ne_at(const std::string& name, int d) { return n_dims_at(name) + 4 + 8 * static_cast<size_t>(d); }
  size_t type_at(const std::string& name, int n_dims) { return ne_at(name, n_dims); }
  size_t offset_at(const std::string& name, int n_dims) { return type_at(name, n_dims) + 4; }

  testing::TempDir dir_;
  std::string bytes_;
  int n_ = 0;
};

TEST_F(GgufCorrupt, EveryTruncationThrowsNeverCrashes) {
  const GgufFile whole = GgufFile::open(fixture_path());
  uint64_t data_end = 0;
  for (const auto& t : whole.tensors()) data_end = std::max(data_end, t.file_offset + t.n_bytes);
  ASSERT_LT(data_end, bytes_.size());  // GGUFWriter pads after the last tensor too
  const uint64_t records_start = whole.tensors()[0].info_offset;
  const std::string path = dir_ / "truncated.gguf";
  for (size_t cut = 0; cut < bytes_.size(); ++cut) {
    write_bytes(path, bytes_.substr(0, cut));
    if (cut < data_end) {
      try {
        GgufFile::open(path);
        ADD_FAILURE() << "truncated to " << cut << " bytes but opened";
      } catch (const Error& e) {
        const std::string what = e.what();
        EXPECT_EQ(what.rfind(path + ": ", 0), 0u) << what;
        EXPECT_NE(what.find(" at byte "), std::string::npos) << what;
        // The message names the part being read: the fixed header, a key, or a tensor record; or
        // a count in the header, when that many records cannot fit in what is left.
        const std::string part = what.substr(path.size() + 2, what.find(" at byte ") - path.size() - 2);
        const bool count = what.find("header at byte 8: tensor count") != std::string::npos ||
                           what.find("header at byte 16: kv count") != std::string::npos;
        if (cut < 24) {
          EXPECT_EQ(part, "header") << what;
        } else if (cut < records_start) {
          EXPECT_TRUE(part.rfind("key ", 0) == 0 || count) << what;
        } else {
          EXPECT_TRUE(part.rfind("tensor ", 0) == 0 || count) << what;
        }
      }
    } else {
      // Only the padding after the last tensor is gone: still a complete file.
      EXPECT_NO_THROW(GgufFile::open(path)) << "cut at " << cut;
    }
  }
}

TEST_F(GgufCorrupt, RandomByteDamageOpensOrThrowsArenaError) {
  // Seeded: 1-4 random bytes of the header region overwritten (with random values, or with
  // 0xFF / 0x00 which make lengths and counts extreme). Whatever opens must also dequantize.
  std::mt19937 rng(1234);
  const uint64_t header_end = GgufFile::open(fixture_path()).data_start();
  const std::string path = dir_ / "damaged.gguf";
  int opened = 0, rejected = 0;
  for (int iter = 0; iter < 3000; ++iter) {
    std::string b = bytes_;
    const int n = 1 + static_cast<int>(rng() % 4);
    for (int k = 0; k < n; ++k) {
      const size_t at = rng() % header_end;
      const uint32_t kind = rng() % 3;
      b[at] = static_cast<char>(kind == 0 ? 0xFF : kind == 1 ? 0x00 : rng() & 0xFF);
    }
    write_bytes(path, b);
    try {
      const GgufFile f = GgufFile::open(path);
      ++opened;
      for (const auto& t : f.tensors()) {
        try {
          f.dequantize(t.name);
        } catch (const Error&) {  // a type without a dequantizer: fine
        }
      }
    } catch (const Error& e) {
      ++rejected;
      EXPECT_EQ(std::string(e.what()).rfind(path + ": ", 0), 0u) << e.what();
    }
  }
  EXPECT_GT(rejected, 1000);
  EXPECT_GT(opened, 10);  // e.g. a changed character of a string value
}

TEST_F(GgufCorrupt, HeaderFields) {
  std::string b = bytes_;
  b.replace(0, 4, "GGML");
  const std::string magic = write(b);
  expect_open_error(magic, {magic + ": header at byte 0:", "not a GGUF file", "found 47 47 4d 4c"});

  b = bytes_;
  put_u32(b, 4, 99);
  expect_open_error(write(b), {"header " + at_byte(4), "unsupported GGUF version 99 (expected 2 or 3, found 99)"});
  put_u32(b, 4, 1);
  expect_open_error(write(b), {"unsupported GGUF version 1"});
  put_u32(b, 4, 0x03000000);
  expect_open_error(write(b), {"big-endian"});
  put_u32(b, 4, 2);  // version 2 has the same layout as 3
  EXPECT_EQ(GgufFile::open(write(b)).version(), 2u);

  b = bytes_;
  put_u64(b, 8, uint64_t{1} << 40);
  expect_open_error(write(b), {"header " + at_byte(8), "tensor count 1099511627776 cannot fit"});
  b = bytes_;
  put_u64(b, 16, std::numeric_limits<uint64_t>::max());
  expect_open_error(write(b), {"header " + at_byte(16), "kv count 18446744073709551615 cannot fit"});
  b = bytes_;
  put_u64(b, 16, 34);  // one pair more than written: the first tensor record is read as a key
  expect_open_error(write(b), {" at byte "});
  b = bytes_;
  put_u64(b, 8, 4);  // one tensor more than written: padding and data are read as a record
  expect_open_error(write(b), {" at byte "});
}

TEST_F(GgufCorrupt, MetadataFields) {
  // The first key's length.
  std::string b = bytes_;
  put_u64(b, 24, uint64_t{1} << 62);
  const std::string p = write(b);
  expect_open_error(p, {p + ": key #0 " + at_byte(24), "key length 4611686018427387904 runs past the end of the file"});

  // A string value's length.
  b = bytes_;
  const size_t str_len_at = after_record(b, "test.string") + 4;
  put_u64(b, str_len_at, uint64_t{1} << 62);
  expect_open_error(write(b), {"key 'test.string' " + at_byte(str_len_at), "string value length"});
  put_u64(b, str_len_at, bytes_.size());  // past the end by a little
  expect_open_error(write(b), {"key 'test.string' " + at_byte(str_len_at), "runs past the end"});

  // Array counts: numbers, strings.
  b = bytes_;
  const size_t u32_count_at = after_record(b, "test.arr_u32") + 8;
  put_u64(b, u32_count_at, uint64_t{1} << 61);
  expect_open_error(write(b), {"key 'test.arr_u32' " + at_byte(u32_count_at), "array count 2305843009213693952",
                               "cannot fit"});
  b = bytes_;
  const size_t str_count_at = after_record(b, "test.arr_string") + 8;
  put_u64(b, str_count_at, uint64_t{1} << 40);
  expect_open_error(write(b), {"key 'test.arr_string' " + at_byte(str_count_at), "array count 1099511627776"});
  // An element string of an array.
  b = bytes_;
  const size_t elem_len_at = str_count_at + 8;
  put_u64(b, elem_len_at, uint64_t{1} << 50);
  expect_open_error(write(b), {"key 'test.arr_string' " + at_byte(elem_len_at), "array string length"});
  // Nested: the inner array's count.
  b = bytes_;
  const size_t inner_count_at = after_record(b, "test.arr_nested") + 16 + 4;
  put_u64(b, inner_count_at, uint64_t{1} << 60);
  expect_open_error(write(b), {"key 'test.arr_nested' " + at_byte(inner_count_at), "array count"});

  // Unknown value types.
  b = bytes_;
  const size_t type_at = after_record(b, "test.u8");
  put_u32(b, type_at, 13);
  expect_open_error(write(b), {"key 'test.u8' " + at_byte(type_at), "unknown value type 13 (expected 0 to 12)"});
  b = bytes_;
  const size_t elem_type_at = after_record(b, "test.arr_u8") + 4;
  put_u32(b, elem_type_at, 42);
  expect_open_error(write(b), {"key 'test.arr_u8' " + at_byte(elem_type_at), "unknown array element type 42"});

  // Duplicate key: test.i8 renamed to test.u8 (same length).
  b = bytes_;
  const size_t first = find_record(b, "test.u8");
  const size_t second = find_record(b, "test.i8");
  b.replace(second + 8, 7, "test.u8");
  expect_open_error(write(b), {"key 'test.u8' " + at_byte(second),
                               "duplicate key (first at byte " + std::to_string(first) + ")"});

  // general.alignment: not a power of two; wrong type.
  b = bytes_;
  const size_t align_at = find_record(b, "general.alignment");
  put_u32(b, align_at + 8 + 17 + 4, 48);
  expect_open_error(write(b), {"key 'general.alignment' " + at_byte(align_at), "not a power of two"});
  b = bytes_;
  put_u32(b, align_at + 8 + 17, static_cast<uint32_t>(GgufValueType::I32));
  expect_open_error(write(b), {"key 'general.alignment'", "(expected uint32, found int32)"});
}

TEST_F(GgufCorrupt, TensorRecords) {
  // n_dims out of range.
  std::string b = bytes_;
  put_u32(b, n_dims_at("t.f32"), 5);
  const std::string p = write(b);
  expect_open_error(p, {p + ": tensor 't.f32' " + at_byte(n_dims_at("t.f32")),
                        "n_dims out of range (expected 1 to 4, found 5)"});
  put_u32(b, n_dims_at("t.f32"), 0);
  expect_open_error(write(b), {"tensor 't.f32'", "found 0)"});

  // A zero dimension; an element count that overflows.
  b = bytes_;
  put_u64(b, ne_at("t.f32", 0), 0);
  expect_open_error(write(b), {"tensor 't.f32' " + at_byte(ne_at("t.f32", 0)), "ne[0] is 0"});
  b = bytes_;
  put_u64(b, ne_at("t.f16", 0), uint64_t{1} << 40);
  put_u64(b, ne_at("t.f16", 1), uint64_t{1} << 40);
  expect_open_error(write(b), {"tensor 't.f16' " + at_byte(ne_at("t.f16", 1)), "element count overflows"});

  // Unknown and removed type ids.
  b = bytes_;
  put_u32(b, type_at("t.f16", 3), 99);
  expect_open_error(write(b), {"tensor 't.f16' " + at_byte(type_at("t.f16", 3)), "unknown ggml type id 99"});
  put_u32(b, type_at("t.f16", 3), 4);
  expect_open_error(write(b), {"unknown ggml type id 4"});

  // A row that is not a whole number of blocks.
  b = bytes_;
  put_u64(b, ne_at("t.q8_0", 0), 48);
  expect_open_error(write(b), {"tensor 't.q8_0' " + at_byte(ne_at("t.q8_0", 0)),
                               "not a whole number of Q8_0 blocks (expected a multiple of 32, found 48)"});

  // Data offsets: past the end, overflowing, misaligned (also only 32-aligned: the file says 64),
  // overlapping.
  b = bytes_;
  put_u64(b, offset_at("t.q8_0", 2), 64 * 100);
  expect_open_error(write(b), {"tensor 't.q8_0' " + at_byte(offset_at("t.q8_0", 2)), "runs past the end of the file"});
  put_u64(b, offset_at("t.q8_0", 2), std::numeric_limits<uint64_t>::max() - 63);
  expect_open_error(write(b), {"tensor 't.q8_0'", "runs past the end of the file"});
  b = bytes_;
  put_u64(b, offset_at("t.f16", 3), 65);
  expect_open_error(write(b), {"tensor 't.f16' " + at_byte(offset_at("t.f16", 3)),
                               "data offset 65 is not aligned (expected a multiple of 64"});
  put_u64(b, offset_at("t.f16", 3), 96);
  expect_open_error(write(b), {"data offset 96 is not aligned"});
  put_u64(b, offset_at("t.f16", 3), 0);
  expect_open_error(write(b), {"tensor 't.f16' " + at_byte(offset_at("t.f16", 3)), "overlaps tensor 't.f32'"});

  // Duplicate name: t.f16 renamed to t.f32.
  b = bytes_;
  const size_t first = find_record(b, "t.f32");
  const size_t second = find_record(b, "t.f16");
  b.replace(second + 8, 5, "t.f32");
  expect_open_error(write(b), {"tensor 't.f32' " + at_byte(second),
                               "duplicate tensor name (first record at byte " + std::to_string(first) + ")"});

  // A huge name length.
  b = bytes_;
  put_u64(b, find_record(b, "t.f16"), uint64_t{1} << 62);
  expect_open_error(write(b), {"tensor #1 " + at_byte(second), "tensor name length"});
}

TEST_F(GgufCorrupt, TypeWithoutDequantizerOpensButDequantizeNamesTensorAndType) {
  std::string b = bytes_;
  put_u32(b, type_at("t.f32", 2), static_cast<uint32_t>(GgmlType::I32));  // same size as F32
  const std::string p = write(b);
  const GgufFile f = GgufFile::open(p);
  EXPECT_EQ(f.tensor("t.f32").type, GgmlType::I32);
  expect_error([&] { f.dequantize("t.f32"); }, {p, "tensor 't.f32'", "I32", "cannot be dequantized"});
  EXPECT_EQ(f.dequantize("t.f16").size(), 24u);
}

// ---------------------------------------------------------------------------------------------
// Files built byte by byte

std::string gguf_string(const std::string& s) { return le(s.size(), 8) + s; }
std::string header(uint64_t tensors, uint64_t kvs) { return "GGUF" + le(3, 4) + le(tensors, 8) + le(kvs, 8); }

TEST(GgufBuilt, EmptyFileAndNoFile) {
  testing::TempDir dir;
  const std::string empty = dir / "empty.gguf";
  write_bytes(empty, "");
  expect_open_error(empty, {empty + ": header at byte 0:", "truncated magic"});
  expect_open_error(dir / "missing.gguf", {"missing.gguf: cannot open"});
  expect_open_error(dir.path().string(), {"not a regular file"});
}

TEST(GgufBuilt, NoTensorsNoKeysAndEmptyArrays) {
  testing::TempDir dir;
  const std::string bare = dir / "bare.gguf";
  write_bytes(bare, header(0, 0));
  const GgufFile f = GgufFile::open(bare);
  EXPECT_TRUE(f.keys().empty());
  EXPECT_TRUE(f.tensors().empty());

  const std::string arrays = dir / "arrays.gguf";
  write_bytes(arrays, header(0, 2) + gguf_string("e.u8") + le(9, 4) + le(0, 4) + le(0, 8) + gguf_string("e.str") +
                          le(9, 4) + le(8, 4) + le(0, 8));
  const GgufFile g = GgufFile::open(arrays);
  EXPECT_TRUE(g.get_array("e.u8").to_vector<uint8_t>().empty());
  EXPECT_TRUE(g.get_string_array("e.str").empty());
}

TEST(GgufBuilt, DeeplyNestedArraysAreRejected) {
  testing::TempDir dir;
  std::string value;
  for (int i = 0; i < 20; ++i) value += le(9, 4) + le(1, 8);  // array of 1 array of ...
  value += le(0, 4) + le(1, 8) + std::string(1, '\x07');      // ... of one uint8
  const std::string path = dir / "deep.gguf";
  write_bytes(path, header(0, 1) + gguf_string("deep") + le(9, 4) + value);
  expect_open_error(path, {path, "key 'deep' at byte", "nested too deeply"});
}

// ---------------------------------------------------------------------------------------------
// The real Gemma-3-270M Q4_K_M file, when present

uint32_t bits_of(float f) {
  uint32_t b;
  std::memcpy(&b, &f, sizeof b);
  return b;
}

TEST(GgufGemma3, RealFile) {
  const char* env = std::getenv("ARENA_GEMMA3_GGUF");
  if (env == nullptr) GTEST_SKIP() << "set ARENA_GEMMA3_GGUF to gemma-3-270m-q4_k_m.gguf to run this test";
  // CTest always sets it: a missing file there is a set-up failure, not a reason to skip.
  ASSERT_TRUE(fs::exists(env)) << env << " is missing: run tools/setup.sh (or python3 tools/fetch_gemma3_gguf.py)";
  const GgufFile f = GgufFile::open(env);
  EXPECT_EQ(f.version(), 3u);
  EXPECT_EQ(f.tensors().size(), 236u);
  EXPECT_EQ(f.keys().size(), 33u);  // the header's version and counts are not keys
  EXPECT_EQ(f.alignment(), 32u);
  EXPECT_EQ(f.get_string("general.architecture"), "gemma3");
  EXPECT_EQ(f.get_u32("gemma3.block_count"), 18u);
  EXPECT_EQ(f.get_u32("gemma3.embedding_length"), 640u);
  EXPECT_EQ(f.get_u32("gemma3.attention.head_count_kv"), 1u);
  EXPECT_EQ(f.get_f32("gemma3.attention.layer_norm_rms_epsilon"), 1e-6f);
  EXPECT_EQ(f.get_f32("gemma3.rope.freq_base"), 1e6f);
  EXPECT_TRUE(f.get_bool("tokenizer.ggml.add_bos_token"));
  EXPECT_EQ(f.get_string_array("tokenizer.ggml.tokens").size(), 262144u);
  EXPECT_EQ(f.get_f32_array("tokenizer.ggml.scores").size(), 262144u);
  EXPECT_EQ(f.get_i32_array("tokenizer.ggml.token_type").size(), 262144u);
  EXPECT_EQ(f.get_string_array("general.tags").size(), 4u);

  const GgufTensorInfo& emb = f.tensor("token_embd.weight");
  EXPECT_EQ(emb.type, GgmlType::Q8_0);
  EXPECT_EQ(emb.ne, (std::vector<uint64_t>{640, 262144}));
  EXPECT_EQ(emb.shape, (std::vector<int64_t>{262144, 640}));

  std::map<std::string, int> per_type;
  for (const auto& t : f.tensors()) ++per_type[ggml_type_name(t.type)];
  EXPECT_EQ(per_type, (std::map<std::string, int>{{"F32", 109}, {"Q5_0", 81}, {"Q4_K", 27}, {"Q8_0", 10}, {"Q6_K", 9}}));

  // Reference values from the gguf package (0.19), made with
  //   r = gguf.GGUFReader(path); t = <tensor>; v = gguf.quants.dequantize(t.data, t.tensor_type).reshape(-1)
  //   first 8: v[:8].view(np.uint32); s1 = sum(bits) mod 2^64; s2 = sum(bits · (i + 1)) mod 2^64
  // with bits = v.view(np.uint32).astype(np.uint64): every value of these tensors, bit for bit.
  struct Reference {
    const char* name;
    uint32_t first[8];
    uint64_t s1, s2;
  };
  const Reference refs[] = {
      {"blk.0.attn_q.weight",  // Q5_0
       {0xbb780000, 0x3bf80000, 0xbc780000, 0xbbba0000, 0x3c3a0000, 0x3c1b0000, 0x00000000, 0xbc1b0000},
       1327267567812608ULL, 9925851491313668096ULL},
      {"token_embd.weight",  // Q8_0
       {0xbbed6000, 0x3d2f8f00, 0xbd0cf100, 0xbcad1600, 0xbc45d000, 0x3ced6000, 0x3b9e4000, 0xbd030d00},
       348470681577118976ULL, 4848051395016474560ULL},
      {"blk.0.attn_output.weight",  // Q4_K
       {0xbc80a800, 0x3d4b7200, 0xbd199600, 0x3d781300, 0xbb9d9800, 0x3d1ed100, 0xbc80a800, 0x3ce46000},
       1368226423918736ULL, 5668601752033962040ULL},
      {"blk.0.ffn_down.weight",  // Q6_K
       {0x3baac700, 0x3cb1e4a0, 0xbcce5b20, 0x3c63b400, 0x3cdc9660, 0xbc801540, 0x3c2ac700, 0xbae3b400},
       2693469328728834ULL, 12550747515998739058ULL},
      {"output_norm.weight",  // F32
       {0x40e40000, 0x41190000, 0x423c0000, 0x43110000, 0x438d8000, 0x40da0000, 0x40b70000, 0x433a0000},
       701339467776ULL, 224719185936384ULL},
  };
  std::map<std::string, const Reference*> ref_of;
  for (const auto& r : refs) ref_of[r.name] = &r;

  // Every tensor dequantizes, in chunks of whole rows so token_embd (168M values) needs no 670 MB
  // buffer; all values are finite.
  constexpr uint64_t kChunk = uint64_t{1} << 22;
  std::vector<float> buf;
  for (const auto& t : f.tensors()) {
    const auto& tr = ggml_traits(t.type);
    const uint64_t row = t.ne[0];
    const uint64_t rows_per_chunk = std::max<uint64_t>(1, kChunk / row);
    const auto it = ref_of.find(t.name);
    uint64_t s1 = 0, s2 = 0, index = 0, non_finite = 0;
    for (uint64_t first_row = 0; first_row * row < t.n_elements; first_row += rows_per_chunk) {
      const uint64_t n = std::min(rows_per_chunk * row, t.n_elements - first_row * row);
      buf.resize(n);
      const uint8_t* src = f.data(t) + first_row * row / tr.block_size * tr.type_size;
      ASSERT_NO_THROW(gguf_dequantize(t.type, src, n, buf.data())) << t.name;
      for (uint64_t i = 0; i < n; ++i, ++index) {
        non_finite += !std::isfinite(buf[i]);
        const uint64_t bits = bits_of(buf[i]);
        s1 += bits;
        s2 += bits * (index + 1);
        if (it != ref_of.end() && index < 8) {
          EXPECT_EQ(bits, it->second->first[index]) << t.name << "[" << index << "]";
        }
      }
    }
    EXPECT_EQ(non_finite, 0u) << t.name;
    if (it != ref_of.end()) {
      EXPECT_EQ(s1, it->second->s1) << t.name;
      EXPECT_EQ(s2, it->second->s2) << t.name;
    }
  }
  // The whole-tensor path gives the same values.
  const std::vector<float> q = f.dequantize("blk.0.attn_q.weight");
  ASSERT_EQ(q.size(), 640u * 1024u);
  for (int i = 0; i < 8; ++i) EXPECT_EQ(bits_of(q[i]), refs[0].first[i]) << i;
}

}  // namespace
}  // namespace arena
