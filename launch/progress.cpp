#include "launch/progress.h"

#include <fmt/format.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>

#include "launch/metrics_log.h"

namespace arena {
namespace {

ProgressBar* g_active = nullptr;  // the bar on screen, if any
constexpr int kWidth = 24;

double seconds(std::chrono::steady_clock::time_point since) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - since).count();
}

}  // namespace

bool stderr_is_terminal() {
  const char* term = std::getenv("TERM");
  return isatty(STDERR_FILENO) == 1 && !(term && std::strcmp(term, "dumb") == 0);
}

void print_above(const std::string& text) {
  if (g_active) std::fputs("\r\x1b[K", stderr);
  std::fputs(text.c_str(), stderr);
  std::fflush(stderr);
}

ProgressBar::ProgressBar(std::string label, std::string unit, int64_t total, bool enabled)
    : label_(std::move(label)), unit_(std::move(unit)), total_(total),
      live_(enabled && stderr_is_terminal()), start_(std::chrono::steady_clock::now()), last_draw_(start_) {
  if (live_) g_active = this;
}

ProgressBar::~ProgressBar() { finish(); }

void ProgressBar::update(int64_t done, const std::string& note) {
  if (!live_ || finished_) return;
  last_done_ = done;
  last_note_ = note;
  if ((total_ <= 0 || done < total_) && seconds(last_draw_) < 0.1) return;
  draw(done, note);
}

void ProgressBar::finish() {
  if (!live_ || finished_) return;
  draw(last_done_, last_note_);
  std::fputs("\n", stderr);
  finished_ = true;
  if (g_active == this) g_active = nullptr;
}

void ProgressBar::draw(int64_t done, const std::string& note) {
  last_draw_ = std::chrono::steady_clock::now();
  const double elapsed = seconds(start_), rate = done / std::max(elapsed, 1e-9);
  if (total_ <= 0) {  // no total known: the count and the rate only
    std::fputs(fmt::format("\r{} {} {} | {:.2f} {}/s{}\x1b[K", label_, done, unit_, rate, unit_,
                           note.empty() ? "" : " | " + note)
                   .c_str(),
               stderr);
    std::fflush(stderr);
    return;
  }
  const int filled = static_cast<int>(kWidth * std::min<int64_t>(done, total_) / total_);
  std::string bar(static_cast<size_t>(filled), '#');
  bar.resize(kWidth, '.');
  const std::string eta = done > 0 ? format_duration(static_cast<double>(total_ - done) / rate) : "?";
  std::fputs(fmt::format("\r{} [{}] {}/{} {} | {:.2f} {}/s | ETA {}{}\x1b[K", label_, bar, done, total_, unit_, rate,
                         unit_, eta, note.empty() ? "" : " | " + note)
                 .c_str(),
             stderr);
  std::fflush(stderr);
}

}  // namespace arena
