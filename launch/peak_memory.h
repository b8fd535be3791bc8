// Peak memory of this process, for run summaries and benchmarks: the resident set (the CPU side,
// weights in host memory included) and, on a CUDA device, the caching allocator's peak allocated
// bytes (what transformers' benchmarks report as torch.cuda.max_memory_allocated()).
#pragma once

#include <c10/core/Device.h>

namespace arena {

struct PeakMemory {
  double rss_mib = 0;
  double device_allocated_mib = -1;  // -1: not a CUDA device (or a build without CUDA)
};

PeakMemory peak_memory(const c10::Device& device);

// The largest of each over every rank of the world (a collective: every rank calls it).
PeakMemory largest_peak_memory(const c10::Device& device);

}  // namespace arena
