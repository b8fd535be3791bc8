#include "data/reader.h"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <optional>

#include "common/error.h"
#include "data/csv.h"
#include "data/parquet_rows.h"
#include "data/text_input.h"

namespace arena {
namespace {

using nlohmann::json;
namespace fs = std::filesystem;

// The extension that names the format: ".jsonl" for "x.jsonl.gz".
std::string extension(const std::string& path) {
  auto e = fs::path(without_gz_suffix(path)).extension().string();
  for (auto& c : e) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return e;
}

std::string first_line(const std::string& path) {
  TextInput in(path);
  std::string line;
  while (in.read_line(line))
    if (line.find_first_not_of(" \t\r") != std::string::npos) return line;
  return line;
}

// Applies the label mode; returns the reason to skip, or empty.
std::string apply_label_mode(int& label, const ReadOptions& o) {
  if (label == kLabelNone) return o.require_labels ? "no label" : "";
  if (label == kLabelTie && o.labels == LabelMode::kBinary) return "tie dropped (binary labels)";
  return "";
}

// Ids may be numbers in some exports.
std::string id_text(const json& v) {
  if (v.is_string()) return v.get<std::string>();
  if (v.is_number_integer()) return std::to_string(v.get<int64_t>());
  return v.dump();
}

int winner_label(const std::string& w) {
  if (w == "model_a") return kLabelA;
  if (w == "model_b") return kLabelB;
  if (w == "tie" || w == "tie (bothbad)") return kLabelTie;
  return -2;
}

// ---------------------------------------------------------------- LMSYS CSV and WSDM CSV

// A JSON list of turns -> strings (null turns become empty strings, as the data means "no text").
std::optional<std::vector<std::string>> parse_turns(const std::string& field) {
  try {
    const auto j = json::parse(field);
    if (!j.is_array()) return std::nullopt;
    std::vector<std::string> turns;
    for (const auto& t : j) {
      if (t.is_null()) turns.emplace_back();
      else if (t.is_string()) turns.push_back(t.get<std::string>());
      else return std::nullopt;
    }
    return turns;
  } catch (const json::exception&) {
    return std::nullopt;
  }
}

// Where the readers put what they find: usable pairs go to `emit`, skipped rows to `report`.
struct Sink {
  ReadReport& report;
  const PairSink& emit;
};

void read_csv(const std::string& path, const ReadOptions& o, Sink& out, bool lmsys) {
  TextInput in(path);
  CsvReader records(in);
  std::map<std::string, size_t> col;
  size_t columns = 0;  // the header's field count: every record must have as many
  bool header = true;
  const char* const lmsys_cols[] = {"id", "prompt", "response_a", "response_b"};
  for (CsvRecord r; records.next(r);) {
    if (header) {
      // A name given twice would map to one index while the count check below uses the other.
      for (size_t i = 0; i < r.fields.size(); ++i)
        check(col.emplace(r.fields[i], i).second, "{}: header names column '{}' twice", path, r.fields[i]);
      columns = r.fields.size();
      for (const char* c : lmsys_cols)
        check(col.count(c) > 0, "{}: header lacks column '{}' (found: {})", path, c, fmt::join(r.fields, ","));
      header = false;
      continue;
    }
    if (r.fields.size() == 1 && r.fields[0].empty()) continue;  // blank line
    ++out.report.rows_read;
    SkippedRow skip{path, r.line, "", ""};
    if (r.fields.size() != columns) {
      skip.reason = "wrong number of fields";
      out.report.skip(skip);
      continue;
    }
    Pair p;
    p.id = r.fields[col["id"]];
    skip.id = p.id;
    if (col.count("model_a") && col.count("model_b"))
      p.model_a = r.fields[col["model_a"]], p.model_b = r.fields[col["model_b"]];
    if (lmsys) {
      auto prompt = parse_turns(r.fields[col["prompt"]]);
      auto a = parse_turns(r.fields[col["response_a"]]);
      auto b = parse_turns(r.fields[col["response_b"]]);
      if (!prompt || !a || !b) {
        skip.reason = "turn field is not a JSON list of strings";
        out.report.skip(skip);
        continue;
      }
      p.prompt = std::move(*prompt);
      p.response_a = std::move(*a);
      p.response_b = std::move(*b);
      if (col.count("winner_model_a")) {
        const std::string one_hot = r.fields[col["winner_model_a"]] + r.fields[col["winner_model_b"]] +
                                    r.fields[col["winner_tie"]];
        p.label = one_hot == "100" ? kLabelA : one_hot == "010" ? kLabelB : one_hot == "001" ? kLabelTie : -2;
        if (p.label == -2) {
          skip.reason = "winner columns are not one-hot";
          out.report.skip(skip);
          continue;
        }
      }
    } else {
      p.prompt = {r.fields[col["prompt"]]};
      p.response_a = {r.fields[col["response_a"]]};
      p.response_b = {r.fields[col["response_b"]]};
      if (col.count("winner")) {
        p.label = winner_label(r.fields[col["winner"]]);
        if (p.label == -2) {
          skip.reason = "unknown winner value";
          out.report.skip(skip);
          continue;
        }
      }
    }
    if (p.prompt.empty()) {
      skip.reason = "empty prompt";
      out.report.skip(skip);
      continue;
    }
    skip.reason = apply_label_mode(p.label, o);
    if (!skip.reason.empty()) {
      out.report.skip(skip);
      continue;
    }
    out.emit(std::move(p));
  }
  check(!header, "{}: empty file (no header)", path);
}

// ---------------------------------------------------------------- JSONL (WSDM fields, pairwise)

// Splits an HH-RLHF dialogue "\n\nHuman: ...\n\nAssistant: ..." into (role, text) turns.
std::vector<std::pair<std::string, std::string>> split_hh(const std::string& text) {
  std::vector<std::pair<std::string, std::string>> turns;
  const std::string human = "\n\nHuman:", assistant = "\n\nAssistant:";
  size_t pos = 0;
  while (pos < text.size()) {
    const size_t h = text.find(human, pos), a = text.find(assistant, pos);
    const size_t next = std::min(h, a);
    if (next == std::string::npos) {
      if (!turns.empty()) turns.back().second += text.substr(pos);
      break;
    }
    if (!turns.empty()) turns.back().second += text.substr(pos, next - pos);
    const bool is_human = next == h;
    turns.emplace_back(is_human ? "user" : "assistant", "");
    pos = next + (is_human ? human.size() : assistant.size());
  }
  for (auto& t : turns) {
    const auto b = t.second.find_first_not_of(' ');
    t.second = b == std::string::npos ? "" : t.second.substr(b);
  }
  return turns;
}

// TRL / chat message lists [{"role", "content"}] or an HH string -> (role, text) turns.
std::optional<std::vector<std::pair<std::string, std::string>>> dialogue(const json& v) {
  if (v.is_string()) return split_hh(v.get<std::string>());
  if (!v.is_array()) return std::nullopt;
  std::vector<std::pair<std::string, std::string>> turns;
  for (const auto& m : v) {
    if (!m.is_object() || !m.contains("role") || !m["role"].is_string() || !m.contains("content") ||
        !m["content"].is_string())
      return std::nullopt;
    turns.emplace_back(m["role"].get<std::string>(), m["content"].get<std::string>());
  }
  return turns;
}

uint64_t swap_hash(uint64_t seed, const std::string& id) {
  uint64_t h = 1469598103934665603ULL ^ (seed * 0x9E3779B97F4A7C15ULL);
  for (unsigned char c : id) h = (h ^ c) * 1099511628211ULL;
  return h;
}

// Returns the skip reason, or empty when `p` was filled.
std::string pairwise_row(const json& j, const std::string& id, const ReadOptions& o, Pair& p) {
  if (!j.contains("chosen") || !j.contains("rejected")) return "missing chosen or rejected";
  auto chosen = dialogue(j["chosen"]);
  auto rejected = dialogue(j["rejected"]);
  if (!chosen || !rejected) return "chosen/rejected is neither a dialogue string nor a message list";
  std::vector<std::pair<std::string, std::string>> prefix;
  if (j.contains("prompt")) {  // TRL explicit prompt: chosen/rejected are the completions
    auto pr = j["prompt"].is_string() ? std::optional<std::vector<std::pair<std::string, std::string>>>(
                                            {{"user", j["prompt"].get<std::string>()}})
                                      : dialogue(j["prompt"]);
    if (!pr) return "prompt is neither a string nor a message list";
    prefix = *pr;
    chosen->insert(chosen->begin(), prefix.begin(), prefix.end());
    rejected->insert(rejected->begin(), prefix.begin(), prefix.end());
  }
  if (chosen->empty() || rejected->empty() || chosen->back().first != "assistant" ||
      rejected->back().first != "assistant")
    return "chosen/rejected does not end with an assistant turn";
  if (chosen->size() != rejected->size() ||
      !std::equal(chosen->begin(), chosen->end() - 1, rejected->begin()))
    return "chosen and rejected differ before the last answer";
  p.id = id;
  std::vector<std::string> shared_answers;
  for (size_t i = 0; i + 1 < chosen->size(); ++i) {
    const auto& [role, text] = (*chosen)[i];
    if (role == "user") p.prompt.push_back(text);
    else if (role == "assistant") shared_answers.push_back(text);
  }
  if (p.prompt.empty()) return "no user turn";
  const bool swap = (swap_hash(o.seed, id) & 1) != 0;
  const auto& first = swap ? rejected->back().second : chosen->back().second;
  const auto& second = swap ? chosen->back().second : rejected->back().second;
  p.response_a = shared_answers;
  p.response_a.push_back(first);
  p.response_b = shared_answers;
  p.response_b.push_back(second);
  p.label = swap ? kLabelB : kLabelA;
  return "";
}

std::string wsdm_row(const json& j, Pair& p) {
  for (const char* k : {"prompt", "response_a", "response_b"})
    if (!j.contains(k) || !(j[k].is_string() || j[k].is_array())) return fmt::format("missing or non-text field '{}'", k);
  const auto text = [](const json& v) {
    if (v.is_string()) return std::vector<std::string>{v.get<std::string>()};
    std::vector<std::string> out;
    for (const auto& t : v) out.push_back(t.is_string() ? t.get<std::string>() : "");
    return out;
  };
  p.prompt = text(j["prompt"]);
  p.response_a = text(j["response_a"]);
  p.response_b = text(j["response_b"]);
  if (j.contains("model_a") && j["model_a"].is_string() && j.contains("model_b") && j["model_b"].is_string())
    p.model_a = j["model_a"].get<std::string>(), p.model_b = j["model_b"].get<std::string>();
  if (j.contains("winner") && !j["winner"].is_null()) {
    p.label = j["winner"].is_string() ? winner_label(j["winner"].get<std::string>()) : -2;
    if (p.label == -2) return "unknown winner value";
  }
  return "";
}

void read_jsonl(const std::string& path, const ReadOptions& o, Sink& out, bool pairwise) {
  TextInput in(path);
  std::string line;
  int64_t line_no = 0;
  const auto stem = fs::path(path).filename().string();
  while (in.read_line(line)) {
    ++line_no;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    ++out.report.rows_read;
    SkippedRow skip{path, line_no, "", ""};
    json j;
    try {
      j = json::parse(line);
    } catch (const json::exception&) {
      skip.reason = "not valid JSON";
      out.report.skip(skip);
      continue;
    }
    if (!j.is_object()) {
      skip.reason = "not a JSON object";
      out.report.skip(skip);
      continue;
    }
    Pair p;
    p.id = j.contains("id") ? id_text(j["id"]) : fmt::format("{}:{}", stem, line_no);
    skip.id = p.id;
    skip.reason = pairwise ? pairwise_row(j, p.id, o, p) : wsdm_row(j, p);
    if (skip.reason.empty() && j.contains("margin")) {
      if (j["margin"].is_number() && std::isfinite(j["margin"].get<double>())) p.margin = j["margin"].get<double>();
      else skip.reason = "margin is not a finite number";
    }
    if (skip.reason.empty()) skip.reason = apply_label_mode(p.label, o);
    if (!skip.reason.empty()) {
      out.report.skip(skip);
      continue;
    }
    out.emit(std::move(p));
  }
}

// LMSYS has winner_model_a (train) or JSON-list turn fields (test); anything else with WSDM's
// column names is WSDM-style CSV. Looks at the header and the first record only.
DataFormat detect_csv(const std::string& path) {
  std::string prefix = TextInput(path).read_some(1 << 20);
  size_t pos = 0;
  int64_t line = 1;
  CsvRecord header, first;
  check(next_csv_record(prefix, pos, line, path, header), "{}: empty file", path);
  const auto& h = header.fields;
  if (std::find(h.begin(), h.end(), "winner_model_a") != h.end()) return DataFormat::kLmsys;
  const auto prompt = std::find(h.begin(), h.end(), "prompt");
  check(prompt != h.end(), "{}: CSV header has no 'prompt' column (found: {})", path, fmt::join(h, ","));
  try {
    if (next_csv_record(prefix, pos, line, path, first)) {
      const size_t i = static_cast<size_t>(prompt - h.begin());
      if (i < first.fields.size() && !first.fields[i].empty() && first.fields[i][0] == '[') return DataFormat::kLmsys;
    }
  } catch (const Error&) {  // a first record longer than the prefix: decide by the header alone
  }
  return DataFormat::kWsdm;
}

// WSDM train.parquet / test.parquet: id, prompt, response_a, response_b, winner (plus columns we
// do not use: model_a, model_b, language). Rows are numbered from 1 in reports.
void read_parquet(const std::string& path, const ReadOptions& o, Sink& out) {
  const std::vector<std::string> columns{"id", "prompt", "response_a", "response_b", "winner"};
  read_parquet_rows(path, columns, [&](int64_t row, const std::vector<std::optional<std::string>>& v) {
    ++out.report.rows_read;
    SkippedRow skip{path, row + 1, v[0].value_or(""), ""};
    Pair p;
    p.id = v[0] ? *v[0] : fmt::format("row {}", row + 1);
    for (size_t k = 1; k <= 3; ++k)
      if (!v[k]) skip.reason = fmt::format("missing or null field '{}'", columns[k]);
    if (skip.reason.empty()) {
      p.prompt = {*v[1]};
      p.response_a = {*v[2]};
      p.response_b = {*v[3]};
      if (v[4]) {
        p.label = winner_label(*v[4]);
        if (p.label == -2) skip.reason = "unknown winner value";
      }
    }
    if (skip.reason.empty()) skip.reason = apply_label_mode(p.label, o);
    if (!skip.reason.empty()) {
      out.report.skip(skip);
      return;
    }
    out.emit(std::move(p));
  });
}

}  // namespace

DataFormat parse_data_format(const std::string& name) {
  if (name == "auto") return DataFormat::kAuto;
  if (name == "lmsys") return DataFormat::kLmsys;
  if (name == "wsdm") return DataFormat::kWsdm;
  if (name == "pairwise") return DataFormat::kPairwise;
  if (name == "parquet") return DataFormat::kParquet;
  throw Error(fmt::format("unknown data format '{}' (auto, lmsys, wsdm, pairwise, parquet)", name));
}

const char* data_format_name(DataFormat f) {
  switch (f) {
    case DataFormat::kLmsys: return "lmsys";
    case DataFormat::kWsdm: return "wsdm";
    case DataFormat::kPairwise: return "pairwise";
    case DataFormat::kParquet: return "parquet";
    default: return "auto";
  }
}

LabelMode parse_label_mode(const std::string& name) {
  if (name == "binary") return LabelMode::kBinary;
  if (name == "3class") return LabelMode::kThreeClass;
  throw Error(fmt::format("unknown label mode '{}' (binary, 3class)", name));
}

DataFormat detect_data_format(const std::string& path) {
  const auto ext = extension(path);
  if (ext == ".parquet") return DataFormat::kParquet;
  const auto head = first_line(path);
  if (ext == ".csv") return detect_csv(path);
  try {
    const auto j = json::parse(head);
    if (j.is_object() && j.contains("chosen") && j.contains("rejected")) return DataFormat::kPairwise;
    if (j.is_object() && j.contains("response_a")) return DataFormat::kWsdm;
  } catch (const json::exception&) {
  }
  throw Error(fmt::format("{}: cannot tell the format (expected LMSYS/WSDM CSV, WSDM or chosen/rejected JSONL, "
                          "or Parquet); pass --format", path));
}

ReadInfo for_each_pair(const std::string& path, const ReadOptions& o, const PairSink& on_pair) {
  ReadInfo info;
  info.format = o.format == DataFormat::kAuto ? detect_data_format(path) : o.format;
  Sink out{info.report, on_pair};
  switch (info.format) {
    case DataFormat::kLmsys: read_csv(path, o, out, /*lmsys=*/true); break;
    case DataFormat::kWsdm:
      if (extension(path) == ".csv") read_csv(path, o, out, /*lmsys=*/false);
      else read_jsonl(path, o, out, /*pairwise=*/false);
      break;
    case DataFormat::kPairwise: read_jsonl(path, o, out, /*pairwise=*/true); break;
    case DataFormat::kParquet: read_parquet(path, o, out); break;
    default: break;
  }
  return info;
}

Dataset read_pairs(const std::string& path, const ReadOptions& o) {
  Dataset out;
  const auto info = for_each_pair(path, o, [&](Pair&& p) { out.pairs.push_back(std::move(p)); });
  out.report = info.report;
  out.format = info.format;
  return out;
}

}  // namespace arena
