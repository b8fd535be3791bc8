#include "launch/peak_memory.h"

#include <sys/resource.h>

#ifdef ARENA_WITH_CUDA
#include <c10/cuda/CUDACachingAllocator.h>
#endif

namespace arena {

PeakMemory peak_memory(const c10::Device& device) {
  PeakMemory p;
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  p.rss_mib = static_cast<double>(u.ru_maxrss) / 1024.0;  // Linux reports KiB
#ifdef ARENA_WITH_CUDA
  if (device.is_cuda()) {
    const auto stats = c10::cuda::CUDACachingAllocator::getDeviceStats(device.index() < 0 ? 0 : device.index());
    const auto all = static_cast<size_t>(c10::CachingAllocator::StatType::AGGREGATE);
    p.device_allocated_mib = static_cast<double>(stats.allocated_bytes[all].peak) / (1 << 20);
  }
#else
  (void)device;
#endif
  return p;
}

}  // namespace arena
