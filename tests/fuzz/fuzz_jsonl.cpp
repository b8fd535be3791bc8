// The JSONL readers: read_pairs as WSDM-field JSONL and as pairwise chosen/rejected JSONL (HH-RLHF
// dialogue strings, TRL message lists, explicit prompts, margins), plus format detection. The file
// is named .jsonl.gz: input starting with the gzip magic is inflated first (data/text_input.h),
// anything else is read as plain text, so one harness covers both.
#include <cstddef>
#include <cstdint>

#include "tests/fuzz/fuzz_pairs.h"
#include "tests/fuzz/fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace arena;
  const auto& path = fuzz::scratch_path(".jsonl.gz");
  fuzz::write_file(path, data, size);
  fuzz::read_pairs_as(path, {DataFormat::kWsdm, DataFormat::kPairwise}, [&](ReadOptions& o) {
    o.labels = (size & 1) != 0 ? LabelMode::kBinary : LabelMode::kThreeClass;
    o.seed = size;
  });
  return 0;
}
