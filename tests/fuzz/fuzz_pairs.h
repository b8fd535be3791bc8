// Shared by the harnesses of the pair readers (fuzz_csv, fuzz_jsonl, fuzz_parquet): read_pairs on
// the scratch file once per format, then detect_data_format, each swallowing the arena::Error a
// malformed input is expected to give (tests/fuzz/fuzz_support.h has the contract).
#pragma once

#include <functional>
#include <initializer_list>
#include <string>

#include "common/error.h"
#include "data/reader.h"

namespace arena::fuzz {

inline void read_pairs_as(const std::string& path, std::initializer_list<DataFormat> formats,
                          const std::function<void(ReadOptions&)>& configure) {
  for (const DataFormat format : formats) {
    try {
      ReadOptions o;
      o.format = format;
      configure(o);
      const Dataset d = read_pairs(path, o);
      (void)d.report.skipped_total();
    } catch (const Error&) {
    }
  }
  try {
    (void)detect_data_format(path);
  } catch (const Error&) {
  }
}

}  // namespace arena::fuzz
