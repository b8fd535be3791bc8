#include "launch/report_chart.h"

#include <fmt/format.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <sys/wait.h>
#include <unistd.h>

namespace arena {
namespace fs = std::filesystem;
namespace {

std::string gnuplot_binary() {
  const char* v = std::getenv("ARENA_GNUPLOT");
  return v && *v ? v : "gnuplot";
}

std::string sh_quote(const std::string& s) {
  std::string out = "'";
  for (const char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

int exit_status(int rc) { return WIFEXITED(rc) ? WEXITSTATUS(rc) : 128; }

}  // namespace

std::string cell(double v) { return std::isfinite(v) ? fmt::format("{:.9g}", v) : "nan"; }

std::string text_cell(const std::string& s) {
  std::string out = "\"";
  for (const char c : s) out += c == '"' ? '\'' : (c == '\n' || c == '\r' || c == '\t') ? ' ' : c;
  return out + "\"";
}

std::string quoted(const std::string& s) {
  std::string out = "'";
  for (const char c : s) {
    if (c == '\'') out += "''";
    else if (c != '\n' && c != '\r') out += c;
  }
  return out + "'";
}

std::string gnuplot_problem() {
  const auto log = fs::temp_directory_path() / fmt::format("arena-gnuplot-{}.log", static_cast<long>(::getpid()));
  const auto cmd = fmt::format("{} --version > {} 2>&1", sh_quote(gnuplot_binary()), sh_quote(log.string()));
  const int rc = exit_status(std::system(cmd.c_str()));
  fs::remove(log);
  if (rc == 0) return "";
  return fmt::format("'{}' does not run: arena report draws its charts with gnuplot (Debian: apt-get install "
                     "gnuplot-nox, as tools/setup.sh does; or set ARENA_GNUPLOT to its path)", gnuplot_binary());
}

std::string render_chart(const Chart& chart, const std::string& dir) {
  const auto base = fs::path(dir) / chart.name;
  const auto dat = base.string() + ".dat", gp = base.string() + ".gp", png = base.string() + ".png";
  {
    std::ofstream f(dat);
    for (size_t s = 0; s < chart.series.size(); ++s) {
      if (s > 0) f << "\n\n";  // gnuplot's `index` separator
      f << "# " << chart.series[s].title << "\n";
      for (const auto& row : chart.series[s].rows) {
        for (size_t k = 0; k < row.size(); ++k) f << (k ? " " : "") << row[k];
        f << "\n";
      }
      if (chart.series[s].rows.empty()) f << "nan nan\n";  // an empty block would shift the indices
    }
    if (!f) return fmt::format("{}: cannot write", dat);
  }
  {
    std::ofstream f(gp);
    f << "# Drawn by arena report; run `gnuplot " << fs::path(gp).filename().string() << "` here to redraw.\n";
    f << fmt::format("set terminal pngcairo noenhanced size {},{} font 'sans,10'\n", chart.width, chart.height);
    f << "set output " << quoted(fs::path(png).filename().string()) << "\n";
    f << "set title " << quoted(chart.title) << "\n";
    f << "set xlabel " << quoted(chart.xlabel) << "\nset ylabel " << quoted(chart.ylabel) << "\n";
    f << "set grid\nset key outside right top\nset style fill solid 0.8 border -1\n";
    for (const auto& line : chart.setup) f << line << "\n";
    f << "plot ";
    const auto dat_name = quoted(fs::path(dat).filename().string());
    for (size_t s = 0; s < chart.series.size(); ++s) {
      const auto& se = chart.series[s];
      f << (s ? ", \\\n     " : "") << dat_name << " index " << s << " using " << se.using_spec << " with " << se.with
        << (se.title.empty() ? " notitle" : " title " + quoted(se.title));
    }
    f << "\n";
    if (!f) return fmt::format("{}: cannot write", gp);
  }
  const auto log = base.string() + ".log";
  // The script names its files relative to `dir`: gnuplot runs there.
  const auto cmd = fmt::format("cd {} && {} {} 2> {}", sh_quote(dir), sh_quote(gnuplot_binary()),
                               sh_quote(fs::path(gp).filename().string()), sh_quote(fs::path(log).filename().string()));
  const int rc = exit_status(std::system(cmd.c_str()));
  std::ifstream lf(log);
  std::stringstream msg;
  msg << lf.rdbuf();
  if (rc != 0 || !fs::is_regular_file(png) || fs::file_size(png) == 0)
    return fmt::format("gnuplot failed on {} (exit {}): {}", gp, rc, msg.str());
  fs::remove(log);
  return "";
}

}  // namespace arena
