#include "data/summary.h"

#include <algorithm>
#include <atomic>
#include <thread>
#include <vector>

namespace arena {

DataSummary summarize(const Dataset& data, const PairEncoder& encoder, uint64_t split_seed, int threads,
                      const std::function<void(int64_t, int64_t)>& progress) {
  DataSummary s;
  const int64_t n = static_cast<int64_t>(data.pairs.size());
  std::vector<int64_t> lengths(static_cast<size_t>(n));
  std::atomic<int64_t> next{0}, done{0}, estimated{0};
  const auto work = [&] {
    for (int64_t i; (i = next.fetch_add(64)) < n;) {
      const int64_t end = std::min(n, i + 64);
      for (int64_t k = i; k < end; ++k) {
        const auto e = encoder.encode(data.pairs[k]);
        lengths[static_cast<size_t>(k)] = e.full_length;
        estimated += e.estimated_sections > 0;
      }
      done += end - i;
    }
  };
  std::vector<std::thread> pool;
  for (int t = 1; t < std::max(threads, 1); ++t) pool.emplace_back(work);
  if (progress) {
    std::thread main_worker(work);
    while (done.load() < n) {
      progress(done.load(), n);
      std::this_thread::sleep_for(std::chrono::milliseconds(500));
    }
    main_worker.join();
    progress(n, n);
  } else {
    work();
  }
  for (auto& t : pool) t.join();

  for (const auto& p : data.pairs) {
    ++s.labels[label_name(p.label)];
    ++s.split[split_name(split_of(p.id, split_seed))];
  }
  for (const char* k : {"train", "val", "test"}) s.split.emplace(k, 0);
  if (n == 0) return s;
  int64_t over = 0;
  for (auto l : lengths) {
    s.tokens += l;
    over += l > encoder.max_len();
  }
  s.truncated_fraction = static_cast<double>(over) / static_cast<double>(n);
  s.estimated = estimated.load();
  std::sort(lengths.begin(), lengths.end());
  const auto pct = [&](double q) { return lengths[static_cast<size_t>(q * static_cast<double>(n - 1) + 0.5)]; };
  s.p50 = pct(0.5);
  s.p90 = pct(0.9);
  s.p99 = pct(0.99);
  s.max = lengths.back();
  return s;
}

}  // namespace arena
