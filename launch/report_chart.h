// Charts for `arena report`, drawn by gnuplot (Debian's gnuplot-nox, pngcairo terminal): a chart
// is written as a data file and a gnuplot script beside the image, so a reader can change and
// re-run it (gnuplot NAME.gp). Text is passed as data or single-quoted strings, never executed.
#pragma once

#include <string>
#include <vector>

namespace arena {

// One plotted data block: rows of cells (numbers or text), drawn with gnuplot's `using` and `with`.
struct Series {
  std::string title;  // legend entry ("" for none)
  std::vector<std::vector<std::string>> rows;
  std::string using_spec = "1:2";  // e.g. "1:2", "0:2:xtic(1)", "1:2:3"
  std::string with = "lines";      // e.g. "linespoints lw 2", "boxes", "image", "labels"
};

struct Chart {
  std::string name;   // file stem: NAME.png, NAME.dat, NAME.gp
  std::string title, xlabel, ylabel;
  std::vector<std::string> setup;  // gnuplot commands before `plot` (ranges, arrows, styles)
  std::vector<Series> series;
  int width = 720, height = 420;
};

// A number as a data cell ("nan" for NaN, which gnuplot skips).
std::string cell(double v);
// A text cell, quoted for gnuplot's data reader.
std::string text_cell(const std::string& s);
// A gnuplot string literal (single-quoted).
std::string quoted(const std::string& s);

// Draws `chart` into dir/NAME.png; returns "" or the reason it could not (gnuplot's message).
// The gnuplot binary is $ARENA_GNUPLOT, else `gnuplot` on the PATH.
std::string render_chart(const Chart& chart, const std::string& dir);

// "" when gnuplot runs, else a message saying how to install it.
std::string gnuplot_problem();

}  // namespace arena
