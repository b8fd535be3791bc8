// Peak tensor memory on the CPU, the counterpart of the CUDA caching allocator's peak allocated
// bytes: an allocator installed in front of ATen's CPU allocator that counts live bytes.
// Bench-only; oneDNN scratch buffers and other allocations outside ATen are not counted.
#pragma once

#include <c10/core/Allocator.h>
#include <c10/core/CPUAllocator.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <mutex>
#include <unordered_map>

namespace arena::bench {

class CpuPeakAllocator final : public c10::Allocator {
 public:
  // Installs it in front of the current CPU allocator; tensors allocated before keep their own
  // deleters. Lives for the process.
  static CpuPeakAllocator& install() {
    static CpuPeakAllocator* self = [] {
      auto* a = new CpuPeakAllocator(c10::GetCPUAllocator());
      c10::SetCPUAllocator(a, /*priority=*/100);
      instance_ = a;
      return a;
    }();
    return *self;
  }

  // The context is the data pointer itself (what Allocator::raw_allocate requires: oneDNN's bf16
  // kernels allocate that way); the base allocator's block waits in a map until it is freed.
  c10::DataPtr allocate(size_t n) override {
    if (n == 0) return base_->allocate(0);
    c10::DataPtr inner = base_->allocate(n);
    void* data = inner.get();
    const c10::Device device = inner.device();
    {
      std::lock_guard<std::mutex> lock(mutex_);
      live_.emplace(data, Live{std::move(inner), n});
    }
    const int64_t now = current_ += static_cast<int64_t>(n);
    int64_t seen = peak_.load();
    while (now > seen && !peak_.compare_exchange_weak(seen, now)) {
    }
    return {data, data, &release, device};
  }
  c10::DeleterFnPtr raw_deleter() const override { return &release; }

  void copy_data(void* dest, const void* src, std::size_t count) const override { std::memcpy(dest, src, count); }

  int64_t current() const { return current_.load(); }
  int64_t peak() const { return peak_.load(); }
  void reset_peak() { peak_.store(current_.load()); }

 private:
  struct Live {
    c10::DataPtr inner;
    size_t bytes;
  };
  explicit CpuPeakAllocator(c10::Allocator* base) : base_(base) {}
  static void release(void* data) {
    CpuPeakAllocator* self = instance_;
    c10::DataPtr inner;  // freed by the base allocator's deleter on leaving, outside the lock
    {
      std::lock_guard<std::mutex> lock(self->mutex_);
      auto it = self->live_.find(data);
      if (it == self->live_.end()) return;
      self->current_ -= static_cast<int64_t>(it->second.bytes);
      inner = std::move(it->second.inner);
      self->live_.erase(it);
    }
  }

  static inline CpuPeakAllocator* instance_ = nullptr;
  c10::Allocator* base_;
  std::mutex mutex_;
  std::unordered_map<void*, Live> live_;
  std::atomic<int64_t> current_{0}, peak_{0};
};

}  // namespace arena::bench
