#include "launch/report.h"

#include <fmt/format.h>

#include <filesystem>
#include <map>

#include "common/error.h"
#include "launch/report_chart.h"
#include "launch/report_data.h"
#include "launch/report_run.h"
#include "launch/report_sections.h"

namespace arena {
namespace fs = std::filesystem;

ReportResult write_report(const ReportOptions& o) {
  check(!o.runs.empty(), "arena report: no run directory given");
  const auto gnuplot = gnuplot_problem();
  check(gnuplot.empty(), "{}", gnuplot);
  std::vector<RunRecord> runs;
  for (const auto& dir : o.runs) runs.push_back(read_run(dir));
  const auto out = o.out.empty() ? (fs::path(o.runs.front()) / "report").string() : o.out;
  fs::create_directories(out);

  std::vector<Section> sections{training_section(runs, out)};
  // One data section per distinct data file and encoding; runs that share one are named together.
  struct Shared {
    DataView view;
    std::string names;
  };
  std::vector<Shared> data;
  std::map<std::string, size_t> seen;
  std::vector<std::string> data_notes;
  for (const auto& run : runs) {
    const auto path = o.data.empty() ? run.config.data_path : o.data;
    const auto key = fmt::format("{}|{}|{}|{}|{}", path, run.config.tokenizer, run.config.max_len, run.config.labels,
                                 run.config.show_lengths);
    if (run.has_config && seen.count(key)) {
      auto& d = data[seen[key]];
      d.names += ", " + run.name;
      continue;
    }
    try {
      auto view = read_run_data(run, o.data);
      seen[key] = data.size();
      data.push_back({std::move(view), run.name});
    } catch (const Error& e) {
      data_notes.push_back(fmt::format("{}: data charts left out: {}", run.name, e.what()));
    }
  }
  for (size_t i = 0; i < data.size(); ++i)
    sections.push_back(data_section(data[i].view, data[i].names, fmt::format("data{}", i + 1), out));
  if (data.empty()) sections.push_back({"data", "Data", {}, {}, {}, {}});
  for (const auto& n : data_notes) sections[1].notes.push_back(n);
  for (size_t i = 0; i < runs.size(); ++i)
    sections.push_back(test_section(runs[i], fmt::format("test{}", i + 1), out));

  ReportResult r;
  r.page = (fs::path(out) / "index.html").string();
  std::vector<std::string> intro;
  for (const auto& run : runs) {
    intro.push_back(fmt::format("Run {}: {}{}", run.name, fs::absolute(run.dir).lexically_normal().string(),
                                run.has_config ? fmt::format(" (data {}, max_len {}, {} labels)", run.config.data_path,
                                                             run.config.max_len, run.config.num_labels)
                                               : std::string()));
    for (const auto& n : run.notes)  // those no section shows
      if (n.find("metrics.jsonl") == std::string::npos && n.find("test_predictions.csv") == std::string::npos)
        sections.front().notes.push_back(n);
  }
  for (const auto& s : sections) {
    r.warnings.insert(r.warnings.end(), s.notes.begin(), s.notes.end());
    for (const auto& f : s.figures) ++r.figures, r.drawn += !f.image.empty();
  }
  write_page(r.page, "arena report: " + runs.front().name + (runs.size() > 1 ? fmt::format(" and {} more", runs.size() - 1) : ""),
             intro, sections);
  return r;
}

}  // namespace arena
