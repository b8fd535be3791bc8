#include "dist/watchdog.h"

#include <fmt/format.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <mutex>
#include <thread>

#include "dist/world.h"

namespace arena {
namespace {

using Clock = std::chrono::steady_clock;

struct State {
  std::atomic<int64_t> started_ns{0};  // 0: no collective in flight
  std::atomic<const char*> op{""};
  std::atomic<int64_t> step{0};
  std::atomic<double> timeout_s{0};
  std::mutex mutex;
  std::condition_variable wake;
  bool running = false;
  std::thread thread;
};

State& state() {
  static State s;
  return s;
}

int64_t now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch()).count();
}

void watch() {
  auto& s = state();
  std::unique_lock<std::mutex> lock(s.mutex);
  while (s.running) {
    s.wake.wait_for(lock, std::chrono::milliseconds(200));
    const int64_t started = s.started_ns.load();
    const double timeout = s.timeout_s.load();
    if (!s.running || started == 0 || timeout <= 0) continue;
    const double waited = static_cast<double>(now_ns() - started) * 1e-9;
    if (waited < timeout) continue;
    abort_world(fmt::format("{} at step {} did not complete within {:g} s (dist.timeout): another rank stalled, hung "
                            "or died; ending the job",
                            s.op.load(), s.step.load(), timeout));
  }
}

}  // namespace

void start_watchdog(double timeout_s) {
  auto& s = state();
  s.timeout_s = timeout_s;
  if (timeout_s <= 0 || world().size <= 1) return;
  std::lock_guard<std::mutex> lock(s.mutex);
  if (s.running) return;
  s.running = true;
  s.thread = std::thread(watch);
}

void stop_watchdog() {
  auto& s = state();
  {
    std::lock_guard<std::mutex> lock(s.mutex);
    if (!s.running) return;
    s.running = false;
  }
  s.wake.notify_all();
  s.thread.join();
}

void set_watchdog_step(int64_t step) { state().step = step; }

CollectiveScope::CollectiveScope(const char* op) {
  auto& s = state();
  s.op = op;
  s.started_ns = now_ns();
}

CollectiveScope::~CollectiveScope() { state().started_ns = 0; }

}  // namespace arena
