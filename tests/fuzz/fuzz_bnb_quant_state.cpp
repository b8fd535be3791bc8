// The bitsandbytes quant_state JSON (model/io/bnb_format.cpp, read_bnb_nf4): the input's first
// byte picks the absmax storage (bit 0: uint8 as with double quantization, else fp32), the rest is
// the JSON of <w>.quant_state.bitsandbytes__nf4. It goes into a safetensors file beside fixed
// companions of a [4, 64] weight (packed codes, the NF4 codebook, absmax, nested absmax and map),
// and read_bnb_nf4 reads it with that expected shape.
#include <torch/types.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "common/error.h"
#include "model/io/bnb_format.h"
#include "model/quant/nf4.h"
#include "tests/fuzz/fuzz_support.h"

namespace {

struct Tensor {
  std::string name, dtype, shape;
  std::string bytes;
};

std::string file_bytes(const std::vector<Tensor>& ts) {
  std::string header = "{", body;
  for (const auto& t : ts) {
    if (header.size() > 1) header += ",";
    header += "\"" + t.name + "\":{\"dtype\":\"" + t.dtype + "\",\"shape\":" + t.shape + ",\"data_offsets\":[" +
              std::to_string(body.size()) + "," + std::to_string(body.size() + t.bytes.size()) + "]}";
    body += t.bytes;
  }
  header += "}";
  std::string out(8, '\0');
  uint64_t n = header.size();
  for (int i = 0; i < 8; ++i) out[i] = static_cast<char>((n >> (8 * i)) & 0xff);
  return out + header + body;
}

template <typename T>
std::string raw(const std::vector<T>& v) {
  return std::string(reinterpret_cast<const char*>(v.data()), v.size() * sizeof(T));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace arena;
  if (size == 0) return 0;
  const bool u8_absmax = (data[0] & 1) != 0;
  const std::string state(reinterpret_cast<const char*>(data) + 1, size - 1);
  const std::string w = "layer.weight";
  std::vector<Tensor> ts{
      {w, "U8", "[128,1]", std::string(128, '\x5a')},
      {w + ".quant_map", "F32", "[16]", raw(std::vector<float>(kNf4Code, kNf4Code + 16))},
      {w + ".absmax", u8_absmax ? "U8" : "F32", "[4]",
       u8_absmax ? std::string(4, '\x80') : raw(std::vector<float>(4, 0.5f))},
      {w + ".nested_absmax", "F32", "[1]", raw(std::vector<float>(1, 1.0f))},
      {w + ".nested_quant_map", "F32", "[256]", raw(std::vector<float>(256, 0.25f))},
      {w + ".quant_state.bitsandbytes__nf4", "U8", "[" + std::to_string(state.size()) + "]", state},
  };
  const std::string bytes = file_bytes(ts);
  const auto& path = fuzz::scratch_path(".safetensors");
  fuzz::write_file(path, reinterpret_cast<const uint8_t*>(bytes.data()), bytes.size());
  try {
    const SafetensorsCheckpoint ckpt(path);
    if (has_bnb_4bit(ckpt, w)) {
      (void)bnb_companion_names(ckpt, w);
      const Nf4Weight q = read_bnb_nf4(ckpt, w, {4, 64});
      (void)q.blocks();
    }
  } catch (const Error&) {
  }
  return 0;
}
