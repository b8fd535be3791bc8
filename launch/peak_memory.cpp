#include "launch/peak_memory.h"

#include <sys/resource.h>

#include <algorithm>
#include <vector>

#include "dist/world.h"

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

PeakMemory largest_peak_memory(const c10::Device& device) {
  const auto& w = world();
  const auto mine = peak_memory(device);
  std::vector<double> peaks(2 * static_cast<size_t>(w.size), 0.0);  // each rank fills its own pair
  peaks[2 * w.rank] = mine.rss_mib;
  peaks[2 * w.rank + 1] = mine.device_allocated_mib;
  host_sum(peaks.data(), static_cast<int>(peaks.size()), "the peak memory of every rank (MPI_Allreduce)");
  PeakMemory largest;
  for (int r = 0; r < w.size; ++r) {
    largest.rss_mib = std::max(largest.rss_mib, peaks[2 * r]);
    largest.device_allocated_mib = std::max(largest.device_allocated_mib, peaks[2 * r + 1]);
  }
  return largest;
}

}  // namespace arena
