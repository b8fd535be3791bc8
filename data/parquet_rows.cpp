#include "data/parquet_rows.h"

#include <arrow/api.h>
#include <arrow/io/file.h>
#include <parquet/arrow/reader.h>

#include "common/error.h"

namespace arena {
namespace {

// The Arrow error helper: an arrow::Status that is not OK becomes an arena::Error naming the file.
void check_arrow(const arrow::Status& s, const char* what, const std::string& path) {
  if (!s.ok()) throw Error(fmt::format("{}: {} failed: {}", path, what, s.ToString()));
}

std::optional<std::string> cell(const arrow::Array& a, int64_t i, const std::string& path, const std::string& col) {
  if (a.IsNull(i)) return std::nullopt;
  switch (a.type_id()) {
    case arrow::Type::STRING: return static_cast<const arrow::StringArray&>(a).GetString(i);
    case arrow::Type::LARGE_STRING: return static_cast<const arrow::LargeStringArray&>(a).GetString(i);
    case arrow::Type::INT64: return std::to_string(static_cast<const arrow::Int64Array&>(a).Value(i));
    case arrow::Type::INT32: return std::to_string(static_cast<const arrow::Int32Array&>(a).Value(i));
    // 17 significant digits: the text parses back to the same double (teacher probabilities).
    case arrow::Type::DOUBLE: return fmt::format("{:.17g}", static_cast<const arrow::DoubleArray&>(a).Value(i));
    case arrow::Type::FLOAT: return fmt::format("{:.9g}", static_cast<const arrow::FloatArray&>(a).Value(i));
    default:
      throw Error(fmt::format("{}: column '{}' has type {}, expected string, integer or floating point", path, col,
                              a.type()->ToString()));
  }
}

}  // namespace

void read_parquet_rows(const std::string& path, const std::vector<std::string>& columns,
                       const std::function<void(int64_t, const std::vector<std::optional<std::string>>&)>& on_row) {
  auto file = arrow::io::ReadableFile::Open(path);
  check_arrow(file.status(), "open", path);
  auto reader = parquet::arrow::OpenFile(*file, arrow::default_memory_pool());
  check_arrow(reader.status(), "open as Parquet", path);
  std::shared_ptr<arrow::Table> table;
  check_arrow((*reader)->ReadTable(&table), "read", path);
  std::vector<std::shared_ptr<arrow::ChunkedArray>> cols;
  for (const auto& name : columns) cols.push_back(table->GetColumnByName(name));  // null when absent
  std::vector<std::optional<std::string>> values(columns.size());
  const int64_t rows = table->num_rows();
  // Walk all columns chunk by chunk in step (chunk boundaries may differ between columns).
  std::vector<int> chunk(columns.size(), 0);
  std::vector<int64_t> offset(columns.size(), 0);
  for (int64_t r = 0; r < rows; ++r) {
    for (size_t k = 0; k < columns.size(); ++k) {
      if (!cols[k]) {
        values[k].reset();
        continue;
      }
      while (offset[k] >= cols[k]->chunk(chunk[k])->length()) {
        offset[k] = 0;
        ++chunk[k];
      }
      values[k] = cell(*cols[k]->chunk(chunk[k]), offset[k]++, path, columns[k]);
    }
    on_row(r, values);
  }
}

}  // namespace arena
