#include "data/teacher.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <nlohmann/json.hpp>
#include <optional>

#include "common/error.h"
#include "data/csv.h"
#include "data/parquet_rows.h"
#include "data/text_input.h"

namespace arena {
namespace {

using json = nlohmann::json;

bool ends_with(const std::string& s, const std::string& tail) {
  return s.size() >= tail.size() && s.compare(s.size() - tail.size(), tail.size(), tail) == 0;
}

// Text of a CSV or Parquet cell as a number; nullopt when it is not one (the whole cell must parse).
std::optional<double> number(const std::string& text) {
  if (text.empty()) return std::nullopt;
  char* end = nullptr;
  const double v = std::strtod(text.c_str(), &end);
  if (end != text.c_str() + text.size()) return std::nullopt;
  return v;
}

std::string id_of(const json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_number_integer()) return std::to_string(v.get<int64_t>());
  return v.dump();
}

}  // namespace

std::vector<std::string> default_teacher_columns(int num_labels) {
  std::vector<std::string> out{"winner_model_a", "winner_model_b"};
  if (num_labels == 3) out.emplace_back("winner_tie");
  return out;
}

TeacherTargets::TeacherTargets(const TeacherOptions& o, int num_labels) : num_labels_(num_labels), tolerance_(o.tolerance) {
  check(!o.paths.empty(), "distill.teachers: no teacher file given");
  check(o.weights.empty() || o.weights.size() == o.paths.size(),
        "distill.weights: {} weights for {} teacher files (give one per file, or none for equal weights)",
        o.weights.size(), o.paths.size());
  const auto columns = o.columns.empty() ? default_teacher_columns(num_labels) : o.columns;
  check(static_cast<int>(columns.size()) == num_labels || columns.size() == 1,
        "distill.columns: {} columns for {} classes (name one per class in label order, or one list-valued JSONL "
        "column)", columns.size(), num_labels);
  for (size_t k = 0; k < o.paths.size(); ++k) {
    File f;
    f.path = o.paths[k];
    f.weight = o.weights.empty() ? 1.0 : o.weights[k];
    check(std::isfinite(f.weight) && f.weight > 0, "distill.weights: weight {} of {} must be positive", f.weight,
          f.path);
    read_file(f, columns);
    files_.push_back(std::move(f));
  }
}

void TeacherTargets::add_row(File& f, const std::string& id, int64_t line, std::vector<double> values,
                             std::string problem) {
  if (problem.empty() && static_cast<int>(values.size()) != num_labels_)
    problem = fmt::format("{} values, expected {}", values.size(), num_labels_);
  if (problem.empty()) {
    double sum = 0;
    for (const double v : values) {
      if (!std::isfinite(v)) problem = "a value is not finite";
      else if (v < 0) problem = "a value is negative";
      sum += v;
    }
    if (problem.empty() && std::fabs(sum - 1.0) > tolerance_)
      problem = fmt::format("values do not sum to 1 (tolerance {:g})", tolerance_);
  }
  Entry e;
  e.problem = {f.path, line, problem.empty() ? "" : fmt::format("teacher {}: {}", f.path, problem)};
  if (problem.empty()) e.probs = std::move(values);
  const auto [it, fresh] = f.rows.emplace(id, e);
  if (!fresh) it->second = Entry{{}, {f.path, line, fmt::format("teacher {}: id given more than once", f.path)}};
}

void TeacherTargets::read_file(File& f, const std::vector<std::string>& columns) {
  const bool list_column = columns.size() == 1 && num_labels_ > 1;
  const std::string plain = without_gz_suffix(f.path);
  if (ends_with(plain, ".csv")) {
    check(!list_column, "{}: distill.columns names one column; a CSV teacher needs one column per class", f.path);
    const auto text = TextInput(f.path).read_all();
    std::vector<size_t> col;  // the id column, then the probability columns
    bool header = true;
    for_each_csv_record(text, f.path, [&](const CsvRecord& r) {
      if (header) {
        header = false;
        std::vector<std::string> want{"id"};
        want.insert(want.end(), columns.begin(), columns.end());
        for (const auto& name : want) {
          const auto it = std::find(r.fields.begin(), r.fields.end(), name);
          check(it != r.fields.end(), "{}: no column '{}' in the header (teacher files need id and {})", f.path, name,
                fmt::join(columns, ", "));
          col.push_back(static_cast<size_t>(it - r.fields.begin()));
        }
        return;
      }
      if (r.fields.size() == 1 && r.fields[0].empty()) return;  // a blank line
      if (r.fields.size() <= *std::max_element(col.begin(), col.end())) {
        add_row(f, col[0] < r.fields.size() ? r.fields[col[0]] : fmt::format("line {}", r.line), r.line, {},
                "fewer fields than the header");
        return;
      }
      std::vector<double> values;
      std::string problem;
      for (size_t k = 1; k < col.size() && problem.empty(); ++k) {
        const auto v = number(r.fields[col[k]]);
        if (!v) problem = fmt::format("{} is not a number", columns[k - 1]);
        else values.push_back(*v);
      }
      add_row(f, r.fields[col[0]], r.line, std::move(values), std::move(problem));
    });
  } else if (ends_with(plain, ".jsonl") || ends_with(plain, ".json")) {
    TextInput in(f.path);
    std::string line;
    int64_t line_no = 0;
    std::vector<bool> seen(columns.size(), false);
    while (in.read_line(line)) {
      ++line_no;
      if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
      json j;
      try {
        j = json::parse(line);
      } catch (const json::exception&) {
        throw Error(fmt::format("{} line {}: not valid JSON", f.path, line_no));
      }
      check(j.is_object() && j.contains("id"), "{} line {}: expected an object with an \"id\"", f.path, line_no);
      const auto id = id_of(j["id"]);
      std::vector<double> values;
      std::string problem;
      const auto take = [&](const json& v, const std::string& name) {
        if (v.is_number()) values.push_back(v.get<double>());
        else if (problem.empty()) problem = fmt::format("{} is not a number", name);
      };
      for (size_t k = 0; k < columns.size(); ++k) {
        const auto& name = columns[k];
        if (!j.contains(name)) {
          problem = fmt::format("no \"{}\"", name);
          break;
        }
        seen[k] = true;
        if (list_column && j[name].is_array()) {
          for (const auto& v : j[name]) take(v, name);
        } else {
          take(j[name], name);
        }
      }
      add_row(f, id, line_no, std::move(values), std::move(problem));
    }
    for (size_t k = 0; k < columns.size(); ++k)
      check(seen[k] || f.rows.empty(), "{}: no row has \"{}\" (teacher files need id and {})", f.path, columns[k],
            fmt::join(columns, ", "));
  } else if (ends_with(plain, ".parquet")) {
    std::vector<std::string> want{"id"};
    want.insert(want.end(), columns.begin(), columns.end());
    std::vector<bool> seen(want.size(), false);
    read_parquet_rows(f.path, want, [&](int64_t row, const std::vector<std::optional<std::string>>& v) {
      for (size_t k = 0; k < v.size(); ++k) seen[k] = seen[k] || v[k].has_value();
      std::vector<double> values;
      std::string problem;
      for (size_t k = 1; k < v.size() && problem.empty(); ++k) {
        const auto x = v[k] ? number(*v[k]) : std::nullopt;
        if (!x) problem = v[k] ? fmt::format("{} is not a number", want[k]) : "no " + want[k];
        else values.push_back(*x);
      }
      add_row(f, v[0] ? *v[0] : fmt::format("row {}", row + 1), row + 1, std::move(values), std::move(problem));
    });
    for (size_t k = 0; k < want.size(); ++k)
      check(seen[k] || f.rows.empty(), "{}: no column '{}' (or it is null in every row)", f.path, want[k]);
  } else {
    throw Error(fmt::format("{}: teacher files are .csv, .jsonl or .parquet (optionally .gz for the text ones)",
                            f.path));
  }
  check(!f.rows.empty(), "{}: no teacher rows", f.path);
}

bool TeacherTargets::lookup(const std::string& id, std::vector<double>& probs, TeacherProblem& why) const {
  probs.assign(static_cast<size_t>(num_labels_), 0.0);
  double total = 0;
  for (const auto& f : files_) {
    const auto it = f.rows.find(id);
    if (it == f.rows.end()) {
      why = {f.path, 0, fmt::format("teacher {}: no row with this id", f.path)};
      return false;
    }
    if (it->second.probs.empty()) {
      why = it->second.problem;
      return false;
    }
    for (int c = 0; c < num_labels_; ++c) probs[static_cast<size_t>(c)] += f.weight * it->second.probs[c];
    total += f.weight;
  }
  for (auto& p : probs) p /= total;
  return true;
}

}  // namespace arena
