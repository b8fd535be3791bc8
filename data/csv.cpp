#include "data/csv.h"

#include "common/error.h"

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

}  // namespace arena
