// `arena report`: one HTML page with PNG charts beside it (gnuplot), self-contained, for one or
// several run directories: training curves overlaid, then per data file its lengths, labels and
// arena statistics, then per run the model on its test split (launch/report_sections.h).
// Missing or damaged inputs (no metrics.jsonl, a cut-off last line, a data file that is not the
// run's) become notes on the page and warnings on stderr; the rest is drawn.
#pragma once

#include <string>
#include <vector>

namespace arena {

struct ReportOptions {
  std::vector<std::string> runs;  // run directories (arena train --out)
  std::string data;               // a data file instead of each run's data.path ("" = the run's)
  std::string out;                // the report directory; "" = <runs[0]>/report
};

struct ReportResult {
  std::string page;                   // <out>/index.html
  std::vector<std::string> warnings;  // every note on the page
  int figures = 0, drawn = 0;
};

// Throws arena::Error when gnuplot does not run, a run directory does not exist, or the page
// cannot be written.
ReportResult write_report(const ReportOptions& o);

}  // namespace arena
