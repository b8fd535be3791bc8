// GGUF (model/io/gguf.cpp): the header, every metadata value and tensor record through
// GgufFile::open, then what the loader reads: the vocabulary, typed getters and the fp32
// dequantization of every tensor (model/quant/gguf_quants.cpp).
#include <cstddef>
#include <cstdint>

#include "common/error.h"
#include "model/io/gguf.h"
#include "tests/fuzz/fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace arena;
  const auto& path = fuzz::scratch_path(".gguf");
  fuzz::write_file(path, data, size);
  try {
    const GgufFile f = GgufFile::open(path);
    try {
      (void)gguf_vocabulary(f).size();
    } catch (const Error&) {
    }
    for (const auto& key : f.keys()) {
      try {
        if (f.type_of(key) == GgufValueType::Array) {
          const auto& a = f.get_array(key);
          if (a.element_type == GgufValueType::F32) (void)f.get_f32_array(key);
          if (a.element_type == GgufValueType::I32) (void)f.get_i32_array(key);
          if (a.element_type == GgufValueType::U32) (void)f.get_u32_array(key);
          if (a.element_type == GgufValueType::String) (void)f.get_string_array(key);
        }
        (void)f.get_u32(key);
      } catch (const Error&) {
      }
    }
    for (const auto& t : f.tensors()) {
      try {
        const auto values = f.dequantize(t.name);
        float sum = 0;
        for (float v : values) sum += v;
        (void)sum;
      } catch (const Error&) {
      }
    }
  } catch (const Error&) {
  }
  return 0;
}
