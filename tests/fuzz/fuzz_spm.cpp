// The SentencePiece model parser (data/spm_model.cpp): tokenizer.model's protobuf wire format
// read without a protobuf library.
#include <cstddef>
#include <cstdint>
#include <string>

#include "common/error.h"
#include "data/spm_model.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  try {
    const auto m = arena::parse_spm_model(std::string(reinterpret_cast<const char*>(data), size), "fuzz.model");
    size_t bytes = m.normalizer_name.size();
    for (const auto& p : m.pieces) bytes += p.piece.size();
    (void)bytes;
  } catch (const arena::Error&) {
  }
  return 0;
}
