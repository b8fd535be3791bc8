// A live one-line progress bar on a terminal: count, rate, ETA and a caller's note (the current
// loss), redrawn in place at most 10 times a second. When stderr is not a terminal (a log file,
// Slurm's output) or this is not rank 0, it draws nothing and callers print their plain periodic
// lines instead (`live()` says which). Lines printed while a bar is up go through `print_above()`,
// which clears the bar first so the two never share a line.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace arena {

class ProgressBar {
 public:
  // `unit`: what is counted ("steps", "pairs", "rows"); `total` <= 0: not known (a streamed file),
  // the bar shows the count and the rate without a fill or an ETA. `enabled`: this process may draw
  // (rank 0).
  ProgressBar(std::string label, std::string unit, int64_t total, bool enabled);
  ~ProgressBar();
  ProgressBar(const ProgressBar&) = delete;
  ProgressBar& operator=(const ProgressBar&) = delete;

  bool live() const { return live_; }
  void update(int64_t done, const std::string& note = "");
  // The total once it is known (a streamed file, at its end): later draws show the full bar.
  void set_total(int64_t total) { total_ = total; }
  // Ends the bar with its final state on its own line.
  void finish();

 private:
  void draw(int64_t done, const std::string& note);
  std::string label_, unit_;
  int64_t total_;
  bool live_, finished_ = false;
  int64_t last_done_ = 0;
  std::string last_note_;
  std::chrono::steady_clock::time_point start_, last_draw_;
};

// True when stderr is a terminal (and TERM is not "dumb").
bool stderr_is_terminal();

// Prints `text` (ending in a newline) to stderr, clearing a live bar's line first.
void print_above(const std::string& text);

}  // namespace arena
