#include <fmt/format.h>

#include <memory>

#include "dist/world.h"
#include "launch/commands.h"
#include "launch/report.h"

namespace arena {
namespace {

int run_report(const ReportOptions& o) {
  if (!world().is_root()) return 0;
  const auto r = write_report(o);
  for (const auto& w : r.warnings) fmt::print(stderr, "arena report: {}\n", w);
  fmt::print("report      {} ({} of {} charts drawn, {} notes)\n", r.page, r.drawn, r.figures, r.warnings.size());
  return 0;
}

}  // namespace

Command add_report_command(CLI::App& app) {
  auto o = std::make_shared<ReportOptions>();
  auto* cmd = app.add_subcommand("report", "An HTML page of charts for one or more runs: training curves, the data, "
                                           "the model on the test split (gnuplot PNGs beside it)");
  cmd->add_option("runs", o->runs, "Run directories (arena train --out); several are overlaid")->required();
  cmd->add_option("--data", o->data, "Data file to describe instead of each run's data.path");
  cmd->add_option("--out", o->out, "Report directory (default: FIRST_RUN/report)");
  return [cmd, o]() { return cmd->parsed() ? run_report(*o) : -1; };
}

}  // namespace arena
