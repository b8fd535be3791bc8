// The CSV readers: the RFC 4180 record parser on the bytes as they are, then read_pairs on them
// as a file, once as LMSYS and once as WSDM-style CSV (header check, one-hot labels, JSON turn
// lists). The file is named .csv.gz: input starting with the gzip magic is inflated first
// (data/text_input.h), anything else is read as plain text, so one harness covers both.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "common/error.h"
#include "data/csv.h"
#include "tests/fuzz/fuzz_pairs.h"
#include "tests/fuzz/fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace arena;
  try {
    size_t fields = 0;
    for_each_csv_record(std::string_view(reinterpret_cast<const char*>(data), size), "fuzz.csv",
                        [&](const CsvRecord& r) { fields += r.fields.size(); });
  } catch (const Error&) {
  }
  const auto& path = fuzz::scratch_path(".csv.gz");
  fuzz::write_file(path, data, size);
  fuzz::read_pairs_as(path, {DataFormat::kLmsys, DataFormat::kWsdm},
                      [&](ReadOptions& o) { o.require_labels = (size & 1) != 0; });
  return 0;
}
