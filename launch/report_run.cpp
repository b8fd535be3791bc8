#include "launch/report_run.h"

#include <fmt/format.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>

#include "common/error.h"
#include "data/csv.h"

namespace arena {
namespace fs = std::filesystem;
namespace {

bool read_text(const fs::path& path, std::string& out) {
  std::ifstream f(path, std::ios::binary);
  if (!f) return false;
  std::ostringstream s;
  s << f.rdbuf();
  out = s.str();
  return true;
}

double number(const nlohmann::json& r, const char* key) {
  const auto it = r.find(key);
  return it != r.end() && it->is_number() ? it->get<double>() : 0.0;
}

void read_metrics(RunRecord& run) {
  const auto path = fs::path(run.dir) / "metrics.jsonl";
  std::string text;
  if (!read_text(path, text)) {
    run.notes.push_back(fmt::format("{}: no such file: no training curves (was the run started with --out {}?)",
                                    path.string(), run.dir));
    return;
  }
  std::map<int64_t, TrainPoint> steps;
  size_t pos = 0;
  for (int64_t line_no = 1; pos < text.size(); ++line_no) {
    const size_t end = text.find('\n', pos);
    const bool last = end == std::string::npos;
    const std::string line = text.substr(pos, last ? std::string::npos : end - pos);
    pos = last ? text.size() : end + 1;
    if (line.find_first_not_of(" \t\r") == std::string::npos) continue;
    nlohmann::json r;
    try {
      r = nlohmann::json::parse(line);
    } catch (const nlohmann::json::exception&) {
      // A run killed while writing leaves a last line without its newline.
      run.notes.push_back(last ? fmt::format("{} line {} is cut off: ignored", path.string(), line_no)
                               : fmt::format("{} line {} is not JSON: ignored", path.string(), line_no));
      continue;
    }
    if (!r.is_object() || !r.contains("kind") || !r["kind"].is_string()) {
      run.notes.push_back(fmt::format("{} line {} has no \"kind\": ignored", path.string(), line_no));
      continue;
    }
    const auto kind = r["kind"].get<std::string>();
    if (kind == "train") {
      TrainPoint p;
      p.step = static_cast<int64_t>(number(r, "step"));
      p.loss = number(r, "loss");
      p.accuracy = number(r, "accuracy");
      p.lr = number(r, "lr");
      p.grad_norm = number(r, "grad_norm");
      p.tokens_per_s = number(r, "tokens_per_s");
      steps[p.step] = p;  // a resumed run repeats the steps after its checkpoint: keep the last
    } else if (kind == "eval" && r.contains("split") && r["split"].is_string()) {
      run.evals.push_back({r["split"].get<std::string>(), static_cast<int64_t>(number(r, "step")),
                           static_cast<int64_t>(number(r, "n")), number(r, "accuracy"), number(r, "log_loss")});
    } else if (kind == "summary") {
      run.summary = r;
    }
  }
  for (const auto& [step, p] : steps) run.train.push_back(p);
  if (run.train.empty()) run.notes.push_back(fmt::format("{}: no \"train\" records: no training curves", path.string()));
}

void read_config(RunRecord& run) {
  const auto path = fs::path(run.dir) / "config.toml";
  if (!fs::is_regular_file(path)) {
    run.notes.push_back(fmt::format("{}: no such file: the data file and token budget are unknown (give --data)",
                                    path.string()));
    return;
  }
  try {
    load_toml_file(run.config, path.string());
    run.has_config = true;
  } catch (const Error& e) {
    run.notes.push_back(fmt::format("{}: cannot be read: {}", path.string(), e.what()));
  }
}

void read_split(RunRecord& run) {
  const auto path = fs::path(run.dir) / "split.json";
  std::string text;
  if (!read_text(path, text)) {
    run.notes.push_back(fmt::format("{}: no such file: the split of the data is unknown", path.string()));
    return;
  }
  try {
    const auto j = nlohmann::json::parse(text);
    const char* parts[] = {"train", "val", "test"};
    for (int k = 0; k < 3; ++k) run.split_ids[k] = j.at(parts[k]).get<std::vector<std::string>>();
  } catch (const nlohmann::json::exception& e) {
    run.notes.push_back(fmt::format("{}: not a {{\"train\", \"val\", \"test\"}} object of row ids ({}): ignored",
                                    path.string(), e.what()));
    for (auto& ids : run.split_ids) ids.clear();
  }
}

void read_predictions(RunRecord& run) {
  const auto path = fs::path(run.dir) / "test_predictions.csv";
  std::string text;
  if (!read_text(path, text)) {
    run.notes.push_back(fmt::format("{}: no such file: no test-split charts (runs before this file existed, or "
                                    "stopped before the end, have none)", path.string()));
    return;
  }
  std::map<std::string, size_t> col;
  std::vector<size_t> prob_cols, swapped_cols;
  try {
    for_each_csv_record(text, path.string(), [&](const CsvRecord& r) {
      if (col.empty()) {
        for (size_t i = 0; i < r.fields.size(); ++i) col[r.fields[i]] = i;
        for (const char* name : {"p_model_a", "p_model_b", "p_tie"})
          if (col.count(name)) prob_cols.push_back(col[name]);
        for (const char* name : {"swapped_p_model_a", "swapped_p_model_b", "swapped_p_tie"})
          if (col.count(name)) swapped_cols.push_back(col[name]);
        check(col.count("row_id") && col.count("label") && prob_cols.size() >= 2,
              "{}: header lacks row_id, label or p_model_a/p_model_b", path.string());
        return;
      }
      if (r.fields.size() == 1 && r.fields[0].empty()) return;
      check(r.fields.size() == col.size(), "{} line {}: {} fields, the header has {}", path.string(), r.line,
            r.fields.size(), col.size());
      TestPrediction p;
      p.row_id = r.fields[col["row_id"]];
      p.label = std::stoi(r.fields[col["label"]]);
      for (const size_t c : prob_cols) p.probs.push_back(std::stod(r.fields[c]));
      for (const size_t c : swapped_cols) p.swapped_probs.push_back(std::stod(r.fields[c]));
      if (col.count("tokens")) p.tokens = std::stoll(r.fields[col["tokens"]]);
      if (col.count("truncated")) p.truncated = std::stoi(r.fields[col["truncated"]]);
      run.test.push_back(std::move(p));
    });
  } catch (const std::exception& e) {  // arena::Error, or std::stod on a damaged number
    run.notes.push_back(fmt::format("{}: cannot be read ({}): no test-split charts", path.string(), e.what()));
    run.test.clear();
  }
}

}  // namespace

RunRecord read_run(const std::string& dir) {
  check(fs::is_directory(dir), "{}: not a directory (expected a run directory written by arena train --out)", dir);
  RunRecord run;
  run.dir = dir;
  run.name = fs::path(dir).lexically_normal().filename().string();
  if (run.name.empty()) run.name = fs::path(dir).lexically_normal().parent_path().filename().string();
  read_config(run);
  read_metrics(run);
  read_split(run);
  read_predictions(run);
  return run;
}

}  // namespace arena
