#include "data/csv.h"

#include <algorithm>

#include "common/error.h"
#include "data/text_input.h"

namespace arena {

bool next_csv_record(std::string_view text, size_t& pos, int64_t& line, const std::string& source, CsvRecord& out) {
  if (pos >= text.size()) return false;
  out.line = line;
  out.fields.clear();
  std::string field;
  bool quoted = false, field_started_quoted = false;
  const int64_t start_line = line;
  while (pos < text.size()) {
    const char c = text[pos];
    if (quoted) {
      if (c == '"') {
        if (pos + 1 < text.size() && text[pos + 1] == '"') {
          field.push_back('"');
          pos += 2;
          continue;
        }
        quoted = false;
        ++pos;
        continue;
      }
      if (c == '\n') ++line;
      field.push_back(c);
      ++pos;
      continue;
    }
    if (c == '"') {
      check(field.empty() && !field_started_quoted, "{}:{}: stray quote inside an unquoted field", source, line);
      quoted = field_started_quoted = true;
      ++pos;
      continue;
    }
    if (c == ',') {
      out.fields.push_back(std::move(field));
      field.clear();
      field_started_quoted = false;
      ++pos;
      continue;
    }
    if (c == '\r' && pos + 1 < text.size() && text[pos + 1] == '\n') {
      ++pos;
      continue;
    }
    if (c == '\n') {
      ++pos;
      ++line;
      break;
    }
    check(!field_started_quoted, "{}:{}: text after the closing quote of a field", source, line);
    field.push_back(c);
    ++pos;
  }
  check(!quoted, "{}:{}: quoted field opened here is never closed (truncated file?)", source, start_line);
  out.fields.push_back(std::move(field));
  return true;
}

bool CsvReader::next(CsvRecord& out) {
  if (!in_.read_line(line_)) return false;
  record_.clear();
  // Every quote of a valid record toggles the quoted state (a doubled quote toggles twice), so the
  // record ends at the first line end where the quotes seen are even. Odd at the end of the file:
  // the parser reports the quote that is never closed.
  size_t quotes = 0;
  while (true) {
    record_ += line_;
    if (in_.line_ended()) record_ += '\n';  // as in the file: a last '\r' without '\n' is text
    quotes += static_cast<size_t>(std::count(line_.begin(), line_.end(), '"'));
    if (quotes % 2 == 0 || !in_.read_line(line_)) break;
  }
  size_t pos = 0;
  next_csv_record(record_, pos, line_no_, in_.path(), out);
  check(pos == record_.size(), "{}:{}: CSV record ends before its last line", in_.path(), out.line);
  return true;
}

}  // namespace arena
