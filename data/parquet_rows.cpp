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

// Arrow reports most damage as a Status, but some damaged footers make it throw a standard
// exception instead (std::length_error from a negative row count, found by fuzzing): those become
// an arena::Error naming the file too. Only Arrow's calls are wrapped, not the caller's callback.
template <class F>
auto guard_arrow(const char* what, const std::string& path, F&& call) {
  try {
    return call();
  } catch (const std::exception& e) {
    throw Error(fmt::format("{}: {} failed: {}", path, what, e.what()));
  }
}

// The counts Arrow sizes its buffers by, checked before it reads: every row group has as many
// column chunks as the schema has columns, and rows that are not negative and add up to the file's.
void check_footer(const parquet::FileMetaData& md, const std::string& path) {
  const int columns = md.schema()->num_columns();
  const auto damaged = [&](const std::string& why) {
    return Error(fmt::format("{}: damaged Parquet footer: {}", path, why));
  };
  if (md.num_columns() != columns)
    throw damaged(fmt::format("{} column chunks per row group for a schema of {} columns", md.num_columns(), columns));
  if (md.num_rows() < 0) throw damaged(fmt::format("{} rows", md.num_rows()));
  int64_t rows = 0;
  for (int g = 0; g < md.num_row_groups(); ++g) {
    const auto group = md.RowGroup(g);
    if (group->num_rows() < 0 || group->num_rows() > md.num_rows() - rows)
      throw damaged(fmt::format("row group {} has {} rows, the file {} in all", g, group->num_rows(), md.num_rows()));
    if (group->num_columns() != columns)
      throw damaged(fmt::format("row group {} has {} column chunks for {} columns", g, group->num_columns(), columns));
    rows += group->num_rows();
  }
  if (rows != md.num_rows())
    throw damaged(fmt::format("its row groups hold {} rows, the file says {}", rows, md.num_rows()));
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
  auto reader = guard_arrow("open as Parquet", path,
                            [&] { return parquet::arrow::OpenFile(*file, arrow::default_memory_pool()); });
  check_arrow(reader.status(), "open as Parquet", path);
  // Only the wanted columns, a record batch at a time: memory holds one batch of rows, not the file.
  (*reader)->set_batch_size(kBatchRows);
  const auto metadata = (*reader)->parquet_reader()->metadata();
  check_footer(*metadata, path);
  const auto* schema = metadata->schema();
  std::vector<int> leaves;
  for (const auto& name : columns) {
    const int leaf = schema->ColumnIndex(name);  // -1 when absent
    if (leaf >= 0) leaves.push_back(leaf);
  }
  std::vector<int> groups((*reader)->num_row_groups());
  for (size_t g = 0; g < groups.size(); ++g) groups[g] = static_cast<int>(g);
  auto batches = guard_arrow("read", path, [&] { return (*reader)->GetRecordBatchReader(groups, leaves); });
  check_arrow(batches.status(), "read", path);
  std::vector<std::optional<std::string>> values(columns.size());
  std::vector<std::shared_ptr<arrow::Array>> cols(columns.size());
  int64_t row = 0;
  while (true) {
    std::shared_ptr<arrow::RecordBatch> batch;
    check_arrow(guard_arrow("read", path, [&] { return (*batches)->ReadNext(&batch); }), "read", path);
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
