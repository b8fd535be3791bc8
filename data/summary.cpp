#include "data/summary.h"

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <deque>
#include <mutex>
#include <thread>
#include <vector>

namespace arena {
namespace {

// Encodes batches of pairs on `threads` threads that live as long as the pool, so each keeps its
// tokenizer word cache warm (it is per thread); the caller reads the next batch meanwhile. At most
// `threads` batches wait, so memory holds about 2 x threads batches of texts.
class EncodePool {
 public:
  EncodePool(const PairEncoder& encoder, int threads) : encoder_(encoder), limit_(static_cast<size_t>(threads)) {
    for (int t = 0; t < threads; ++t) workers_.emplace_back([this] { work(); });
  }
  ~EncodePool() { finish(); }

  // Queues pairs [begin, begin + n) of `owned`, or of memory the caller keeps when `owned` is empty.
  void push(std::vector<Pair>&& owned, const Pair* begin, size_t n) {
    std::unique_lock<std::mutex> lock(mutex_);
    space_.wait(lock, [&] { return queue_.size() < limit_; });
    queue_.push_back({std::move(owned), begin, n});
    ready_.notify_one();
  }
  int64_t done() const { return done_.load(); }
  // Waits for every queued pair; then lengths() holds one length per pair, in no particular order.
  void finish() {
    {
      std::lock_guard<std::mutex> lock(mutex_);
      closed_ = true;
    }
    ready_.notify_all();
    for (auto& t : workers_) t.join();
    workers_.clear();
  }
  std::vector<int64_t>& lengths() { return lengths_; }
  int64_t estimated() const { return estimated_; }

 private:
  struct Batch {
    std::vector<Pair> owned;
    const Pair* begin = nullptr;
    size_t n = 0;
  };
  void work() {
    std::vector<int64_t> lengths;
    while (true) {
      Batch b;
      {
        std::unique_lock<std::mutex> lock(mutex_);
        ready_.wait(lock, [&] { return !queue_.empty() || closed_; });
        if (queue_.empty()) return;
        b = std::move(queue_.front());
        queue_.pop_front();
      }
      space_.notify_one();
      const Pair* pairs = b.owned.empty() ? b.begin : b.owned.data();
      lengths.clear();
      int64_t estimated = 0;
      for (size_t k = 0; k < b.n; ++k) {
        const auto e = encoder_.encode(pairs[k]);
        lengths.push_back(e.full_length);
        estimated += e.estimated_sections > 0;
      }
      std::lock_guard<std::mutex> lock(mutex_);
      lengths_.insert(lengths_.end(), lengths.begin(), lengths.end());
      estimated_ += estimated;
      done_ += static_cast<int64_t>(b.n);
    }
  }
  const PairEncoder& encoder_;
  size_t limit_;
  std::mutex mutex_;
  std::condition_variable ready_, space_;
  std::deque<Batch> queue_;
  bool closed_ = false;
  std::vector<std::thread> workers_;
  std::vector<int64_t> lengths_;
  int64_t estimated_ = 0;
  std::atomic<int64_t> done_{0};
};

// Lengths and counts gathered batch by batch (the percentiles do not depend on the order).
class SummaryBuilder {
 public:
  SummaryBuilder(const PairEncoder& encoder, uint64_t split_seed, int threads,
                 const std::function<void(int64_t)>& progress)
      : encoder_(encoder), split_seed_(split_seed), pool_(encoder, std::max(threads, 1)), progress_(progress) {}

  // Counts the labels and splits of pairs [begin, begin + n) and queues them for encoding.
  void add(std::vector<Pair>&& owned, const Pair* begin, size_t n) {
    const Pair* pairs = owned.empty() ? begin : owned.data();
    for (size_t k = 0; k < n; ++k) {
      ++s_.labels[label_name(pairs[k].label)];
      ++s_.split[split_name(split_of(pairs[k].id, split_seed_))];
    }
    pool_.push(std::move(owned), begin, n);
    if (progress_) progress_(pool_.done());
  }

  DataSummary finish() {
    pool_.finish();
    auto& lengths = pool_.lengths();
    if (progress_) progress_(pool_.done());
    for (const char* k : {"train", "val", "test"}) s_.split.emplace(k, 0);
    const int64_t n = static_cast<int64_t>(lengths.size());
    s_.used = n;
    s_.estimated = pool_.estimated();
    if (n == 0) return s_;
    int64_t over = 0;
    for (auto l : lengths) {
      s_.tokens += l;
      over += l > encoder_.max_len();
    }
    s_.truncated_fraction = static_cast<double>(over) / static_cast<double>(n);
    std::sort(lengths.begin(), lengths.end());
    const auto pct = [&](double q) { return lengths[static_cast<size_t>(q * static_cast<double>(n - 1) + 0.5)]; };
    s_.p50 = pct(0.5);
    s_.p90 = pct(0.9);
    s_.p99 = pct(0.99);
    s_.max = lengths.back();
    return s_;
  }

 private:
  const PairEncoder& encoder_;
  uint64_t split_seed_;
  EncodePool pool_;
  std::function<void(int64_t)> progress_;
  DataSummary s_;
};

}  // namespace

DataSummary summarize(const Dataset& data, const PairEncoder& encoder, uint64_t split_seed, int threads,
                      const std::function<void(int64_t)>& progress) {
  SummaryBuilder b(encoder, split_seed, threads, progress);
  const size_t n = data.pairs.size(), batch = static_cast<size_t>(kSummaryBatch);
  for (size_t i = 0; i < n; i += batch) b.add({}, data.pairs.data() + i, std::min(n - i, batch));
  auto s = b.finish();
  s.read = {data.report, data.format};
  return s;
}

DataSummary summarize_file(const std::string& path, const ReadOptions& options, const PairEncoder& encoder,
                           uint64_t split_seed, int threads, const std::function<void(int64_t)>& progress) {
  SummaryBuilder b(encoder, split_seed, threads, progress);
  std::vector<Pair> batch;
  const auto info = for_each_pair(path, options, [&](Pair&& p) {
    batch.push_back(std::move(p));
    if (static_cast<int64_t>(batch.size()) == kSummaryBatch) {
      const size_t n = batch.size();
      b.add(std::move(batch), nullptr, n);
      batch = {};
    }
  });
  if (!batch.empty()) {
    const size_t n = batch.size();
    b.add(std::move(batch), nullptr, n);
  }
  auto s = b.finish();
  s.read = info;
  return s;
}

}  // namespace arena
