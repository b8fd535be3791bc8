#include "data/parquet_rows.h"

#include <arrow/api.h>
#include <arrow/io/file.h>
#include <parquet/arrow/reader.h>
#include <parquet/file_reader.h>
#include <parquet/metadata.h>
#include <parquet/schema.h>

#include "common/error.h"

namespace arena {
namespace {

constexpr int64_t kBatchRows = 1024;

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
  // Only the wanted columns, a record batch at a time: memory holds one batch of rows, not the file.
  (*reader)->set_batch_size(kBatchRows);
  const auto* schema = (*reader)->parquet_reader()->metadata()->schema();
  std::vector<int> leaves;
  for (const auto& name : columns) {
    const int leaf = schema->ColumnIndex(name);  // -1 when absent
    if (leaf >= 0) leaves.push_back(leaf);
  }
  std::vector<int> groups((*reader)->num_row_groups());
  for (size_t g = 0; g < groups.size(); ++g) groups[g] = static_cast<int>(g);
  auto batches = (*reader)->GetRecordBatchReader(groups, leaves);
  check_arrow(batches.status(), "read", path);
  std::vector<std::optional<std::string>> values(columns.size());
  std::vector<std::shared_ptr<arrow::Array>> cols(columns.size());
  int64_t row = 0;
  while (true) {
    std::shared_ptr<arrow::RecordBatch> batch;
    check_arrow((*batches)->ReadNext(&batch), "read", path);
    if (!batch) break;
    for (size_t k = 0; k < columns.size(); ++k) cols[k] = batch->GetColumnByName(columns[k]);  // null when absent
    for (int64_t i = 0; i < batch->num_rows(); ++i, ++row) {
      for (size_t k = 0; k < columns.size(); ++k) {
        if (cols[k]) values[k] = cell(*cols[k], i, path, columns[k]);
        else values[k].reset();
      }
      on_row(row, values);
    }
  }
}

}  // namespace arena
