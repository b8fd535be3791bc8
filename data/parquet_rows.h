// Reading string columns of a Parquet file (WSDM train.parquet / test.parquet) row by row.
// The implementation uses Apache Arrow's C++ library from the pyarrow wheel (Debian 12 packages no
// Arrow) and is compiled as C++20, which Arrow's headers need; this header is plain C++17.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace arena {

// Calls on_row(row_index, values) for every row, in file order, reading only `columns` one record
// batch (1,024 rows) at a time, so memory holds a batch, not the file; values[k] is column `columns[k]` as text (integers
// become decimal text, floating point enough digits to parse back to the same value), nullopt
// for a null or a column the file does not have.
// Throws arena::Error naming the file for an unreadable file or a column of another type.
void read_parquet_rows(const std::string& path, const std::vector<std::string>& columns,
                       const std::function<void(int64_t, const std::vector<std::optional<std::string>>&)>& on_row);

}  // namespace arena
