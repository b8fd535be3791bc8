// RFC 4180 CSV: quoted fields may hold commas, doubled quotes and newlines.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace arena {

class TextInput;

struct CsvRecord {
  int64_t line = 0;  // 1-based line where the record starts
  std::vector<std::string> fields;
};

// Calls `on_record` for every record of `text` (the header included). Throws arena::Error naming
// `source` and the line on an unterminated quote or a stray quote inside an unquoted field.
template <typename F>
void for_each_csv_record(std::string_view text, const std::string& source, F&& on_record);

// Reads the records of a file one at a time, holding one record: its lines are joined until the
// quotes balance (a quoted field may span lines), then parsed as for_each_csv_record would, with
// the same line numbers and the same errors.
class CsvReader {
 public:
  explicit CsvReader(TextInput& in) : in_(in) {}
  // The next record (the header included); false at the end of the file.
  bool next(CsvRecord& out);

 private:
  TextInput& in_;
  std::string record_, line_;
  int64_t line_no_ = 1;
};

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
