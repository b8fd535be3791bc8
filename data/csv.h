// RFC 4180 CSV: quoted fields may hold commas, doubled quotes and newlines.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace arena {

struct CsvRecord {
  int64_t line = 0;  // 1-based line where the record starts
  std::vector<std::string> fields;
};

// Calls `on_record` for every record of `text` (the header included). Throws arena::Error naming
// `source` and the line on an unterminated quote or a stray quote inside an unquoted field.
template <typename F>
void for_each_csv_record(std::string_view text, const std::string& source, F&& on_record);

// Implementation detail: parses one record starting at `pos`; returns false at end of input.
bool next_csv_record(std::string_view text, size_t& pos, int64_t& line, const std::string& source, CsvRecord& out);

template <typename F>
void for_each_csv_record(std::string_view text, const std::string& source, F&& on_record) {
  size_t pos = 0;
  int64_t line = 1;
  CsvRecord rec;
  while (next_csv_record(text, pos, line, source, rec)) on_record(rec);
}

}  // namespace arena
