// Parquet through Apache Arrow (data/parquet_rows.cpp, the pyarrow wheel's libparquet) and the
// WSDM row mapping above it (read_pairs with format parquet). Arrow and Parquet themselves are
// not instrumented: ASan/UBSan watch our code and every byte Arrow hands back to it.
#include <cstddef>
#include <cstdint>

#include "common/error.h"
#include "data/parquet_rows.h"
#include "data/reader.h"
#include "tests/fuzz/fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace arena;
  const auto& path = fuzz::scratch_path(".parquet");
  fuzz::write_file(path, data, size);
  try {
    ReadOptions o;
    o.format = DataFormat::kParquet;
    const Dataset d = read_pairs(path, o);
    (void)d.report.skipped_total();
  } catch (const Error&) {
  }
  try {
    size_t bytes = 0;
    read_parquet_rows(path, {"model_a", "language", "missing"},
                      [&](int64_t, const std::vector<std::optional<std::string>>& v) {
                        for (const auto& s : v) bytes += s ? s->size() : 0;
                      });
  } catch (const Error&) {
  }
  return 0;
}
