// The JSONL readers: read_pairs as WSDM-field JSONL and as pairwise chosen/rejected JSONL (HH-RLHF
// dialogue strings, TRL message lists, explicit prompts, margins), plus format detection. The file
// is named .jsonl.gz: input starting with the gzip magic is inflated first (data/text_input.h),
// anything else is read as plain text, so one harness covers both.
#include <cstddef>
#include <cstdint>

#include "common/error.h"
#include "data/reader.h"
#include "tests/fuzz/fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace arena;
  const auto& path = fuzz::scratch_path(".jsonl.gz");
  fuzz::write_file(path, data, size);
  for (DataFormat format : {DataFormat::kWsdm, DataFormat::kPairwise}) {
    try {
      ReadOptions o;
      o.format = format;
      o.labels = (size & 1) != 0 ? LabelMode::kBinary : LabelMode::kThreeClass;
      o.seed = size;
      const Dataset d = read_pairs(path, o);
      (void)d.report.skipped_total();
    } catch (const Error&) {
    }
  }
  try {
    (void)detect_data_format(path);
  } catch (const Error&) {
  }
  return 0;
}
