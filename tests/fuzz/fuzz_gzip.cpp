// The gzip layer under every text reader (data/text_input.h): the input is a compressed file
// (concatenated members, damaged or truncated streams, trailing bytes), read line by line, in
// odd-sized pieces and whole.
#include <cstddef>
#include <cstdint>
#include <string>

#include "common/error.h"
#include "data/text_input.h"
#include "tests/fuzz/fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace arena;
  const auto& path = fuzz::scratch_path(".jsonl.gz");
  fuzz::write_file(path, data, size);
  try {
    TextInput in(path);
    std::string line;
    for (int i = 0; i < 3 && in.read_line(line); ++i) {
    }
    (void)in.read_some(1 + size % 4093);
    (void)in.read_all();
    (void)in.read_line(line);
  } catch (const Error&) {
  }
  return 0;
}
