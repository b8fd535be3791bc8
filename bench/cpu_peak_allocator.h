// Peak tensor memory on the CPU, the counterpart of the CUDA caching allocator's peak allocated
// bytes: an allocator installed in front of ATen's CPU allocator that counts live bytes.
// Bench-only; oneDNN scratch buffers and other allocations outside ATen are not counted.
#pragma once

#include <c10/core/Allocator.h>
#include <c10/core/CPUAllocator.h>

#include <algorithm>
#include <atomic>
#include <cstring>

namespace arena::bench {

class CpuPeakAllocator final : public c10::Allocator {
 public:
  // Installs it in front of the current CPU allocator; tensors allocated before keep their own
  // deleters. Lives for the process.
  static CpuPeakAllocator& install() {
    static CpuPeakAllocator* self = [] {
      auto* a = new CpuPeakAllocator(c10::GetCPUAllocator());
      c10::SetCPUAllocator(a, /*priority=*/100);
      return a;
    }();
    return *self;
  }

  c10::DataPtr allocate(size_t n) override {
    auto* block = new Block{base_->allocate(n), n, this};
    const int64_t now = current_ += static_cast<int64_t>(n);
    int64_t seen = peak_.load();
    while (now > seen && !peak_.compare_exchange_weak(seen, now)) {
    }
    void* data = block->inner.get();
    return {data, block, &release, block->inner.device()};
  }

  void copy_data(void* dest, const void* src, std::size_t count) const override { std::memcpy(dest, src, count); }

  int64_t current() const { return current_.load(); }
  int64_t peak() const { return peak_.load(); }
  void reset_peak() { peak_.store(current_.load()); }

 private:
  struct Block {
    c10::DataPtr inner;
    size_t bytes;
    CpuPeakAllocator* owner;
  };
  explicit CpuPeakAllocator(c10::Allocator* base) : base_(base) {}
  static void release(void* ctx) {
    auto* block = static_cast<Block*>(ctx);
    block->owner->current_ -= static_cast<int64_t>(block->bytes);
    delete block;
  }

  c10::Allocator* base_;
  std::atomic<int64_t> current_{0}, peak_{0};
};

}  // namespace arena::bench
