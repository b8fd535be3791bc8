// Safetensors (model/io/safetensors.cpp): the 8-byte length and JSON header validated by
// SafetensorsFile::open, then every tensor view it hands out read to its last byte, and the same
// file opened as a one-file SafetensorsCheckpoint (names, shapes, tensors).
#include <torch/types.h>

#include <cstddef>
#include <cstdint>

#include "common/error.h"
#include "model/io/safetensors.h"
#include "tests/fuzz/fuzz_support.h"

namespace {

// Touches every byte of `t`'s storage, so a view that reaches past the mapping is caught.
uint64_t touch(const torch::Tensor& t) {
  const auto* p = static_cast<const uint8_t*>(t.data_ptr());
  uint64_t sum = 0;
  for (size_t i = 0; i < t.nbytes(); ++i) sum += p[i];
  return sum;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace arena;
  const auto& path = fuzz::scratch_path(".safetensors");
  fuzz::write_file(path, data, size);
  try {
    const auto f = SafetensorsFile::open(path);
    uint64_t sum = f->metadata().size();
    for (const auto& [name, entry] : f->entries()) sum += touch(f->tensor(name));
    (void)sum;
  } catch (const Error&) {
  }
  try {
    const SafetensorsCheckpoint ckpt(path);
    uint64_t sum = 0;
    for (const auto& name : ckpt.names()) {
      sum += ckpt.shape_of(name).size();
      sum += touch(ckpt.tensor(name));
    }
    (void)sum;
  } catch (const Error&) {
  }
  return 0;
}
