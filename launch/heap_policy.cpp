#include "launch/heap_policy.h"

#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include <climits>

namespace arena {

bool keep_freed_memory_in_heap() {
#if defined(__GLIBC__)
  // No block of any size from mmap, and a trim threshold no heap reaches: freed memory stays
  // mapped for the next batch. mallopt returns 1 on success.
  return mallopt(M_MMAP_MAX, 0) == 1 && mallopt(M_TRIM_THRESHOLD, INT_MAX) == 1;
#else
  return false;
#endif
}

}  // namespace arena
