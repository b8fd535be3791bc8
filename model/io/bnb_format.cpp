#include "model/io/bnb_format.h"

#include <torch/torch.h>

#include <nlohmann/json.hpp>

#include "common/error.h"
#include "common/json_integer.h"

namespace arena {
namespace {

const char* const kSuffixes[] = {".absmax", ".quant_map", ".nested_absmax", ".nested_quant_map",
                                 ".quant_state.bitsandbytes__nf4", ".quant_state.bitsandbytes__fp4"};

constexpr int64_t kMaxBlocksize = 4096;

torch::ScalarType dtype_from_name(const std::string& name, const std::string& where) {
  if (name == "float32") return torch::kFloat32;
  if (name == "bfloat16") return torch::kBFloat16;
  if (name == "float16") return torch::kFloat16;
  throw Error(fmt::format("{}: unsupported dtype '{}' in the bitsandbytes quant_state", where, name));
}

}  // namespace

bool has_bnb_4bit(const SafetensorsCheckpoint& ckpt, const std::string& w) {
  return ckpt.contains(w + ".quant_state.bitsandbytes__nf4") || ckpt.contains(w + ".quant_state.bitsandbytes__fp4");
}

std::vector<std::string> bnb_companion_names(const SafetensorsCheckpoint& ckpt, const std::string& w) {
  std::vector<std::string> out;
  for (const char* s : kSuffixes)
    if (ckpt.contains(w + s)) out.push_back(w + s);
  return out;
}

Nf4Weight read_bnb_nf4(const SafetensorsCheckpoint& ckpt, const std::string& w,
                       const std::vector<int64_t>& expected_shape) {
  check(!ckpt.contains(w + ".quant_state.bitsandbytes__fp4"),
        "{}: tensor '{}' is bitsandbytes FP4; only NF4 (bnb_4bit_quant_type=\"nf4\") is supported", ckpt.file_of(w), w);
  const std::string state_name = w + ".quant_state.bitsandbytes__nf4";
  const std::string where = fmt::format("{}: tensor '{}'", ckpt.file_of(state_name), state_name);
  const auto bytes = ckpt.tensor(state_name).contiguous();
  check(bytes.scalar_type() == torch::kUInt8, "{}: expected uint8 JSON bytes", where);
  nlohmann::json state;
  try {
    const auto* p = bytes.data_ptr<uint8_t>();
    state = nlohmann::json::parse(p, p + bytes.numel());
  } catch (const nlohmann::json::exception& e) {
    throw Error(fmt::format("{}: not valid JSON ({})", where, e.what()));
  }

  Nf4Weight out;
  try {
    check(state.value("quant_type", "") == "nf4", "{}: quant_type is '{}', expected nf4", where,
          state.value("quant_type", "?"));
    // Integers only (common/json_integer.h: a float such as 3e71 was an undefined cast).
    out.blocksize = json_integer(state.at("blocksize"), fmt::format("{}: blocksize", where));
    out.shape = json_integers(state.at("shape"), fmt::format("{}: shape", where));
    out.dtype = dtype_from_name(state.value("dtype", "bfloat16"), where);
    out.nested = state.contains("nested_offset");
    if (out.nested) {
      out.nested_blocksize = state.contains("nested_blocksize")
                                 ? json_integer(state.at("nested_blocksize"), fmt::format("{}: nested_blocksize", where))
                                 : int64_t{256};
      out.offset = static_cast<float>(state.at("nested_offset").get<double>());  // an fp32 value, exact
    }
  } catch (const nlohmann::json::exception& e) {
    throw Error(fmt::format("{}: malformed quant_state ({})", where, e.what()));
  }
  check(out.shape == expected_shape, "{}: quantized weight has shape [{}], expected [{}]", where,
        fmt::join(out.shape, ", "), fmt::join(expected_shape, ", "));
  // bitsandbytes writes blocks of 64 to 4096 values (nested: 256); the bounds also keep the block
  // counts below from overflowing (found by tests/fuzz/fuzz_bnb_quant_state.cpp).
  check(out.blocksize > 0 && out.blocksize <= kMaxBlocksize && out.blocksize % 8 == 0,
        "{}: blocksize {} is not supported (a multiple of 8 up to {} expected)", where, out.blocksize, kMaxBlocksize);
  check(!out.nested || (out.nested_blocksize > 0 && out.nested_blocksize <= kMaxBlocksize),
        "{}: nested_blocksize {} is not supported (1 to {} expected)", where, out.nested_blocksize, kMaxBlocksize);

  const auto load = [&](const std::string& name, torch::ScalarType type, int64_t numel) {
    check(ckpt.contains(name), "{}: missing tensor '{}' of the 4-bit weight '{}'", ckpt.path(), name, w);
    const auto t = ckpt.tensor(name);
    check(t.scalar_type() == type && t.numel() == numel, "{}: tensor '{}' is {} with {} values, expected {} with {}",
          ckpt.file_of(name), name, c10::toString(t.scalar_type()), t.numel(), c10::toString(type), numel);
    return t.reshape({-1}).clone();  // own the bytes: the mapping may be closed after loading
  };
  out.packed = load(w, torch::kUInt8, (out.numel() + 1) / 2);
  const auto codebook = load(w + ".quant_map", torch::kFloat32, 16);
  check(torch::equal(codebook, torch::from_blob(const_cast<float*>(kNf4Code), {16}, torch::kFloat32)),
        "{}: tensor '{}.quant_map' is not the NF4 codebook", ckpt.file_of(w + ".quant_map"), w);
  if (out.nested) {
    out.qabsmax = load(w + ".absmax", torch::kUInt8, out.blocks());
    out.nested_absmax = load(w + ".nested_absmax", torch::kFloat32, (out.blocks() + out.nested_blocksize - 1) / out.nested_blocksize);
    out.nested_map = load(w + ".nested_quant_map", torch::kFloat32, 256);
  } else {
    out.absmax = load(w + ".absmax", torch::kFloat32, out.blocks());
  }
  return out;
}

}  // namespace arena
