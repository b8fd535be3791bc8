// keep_freed_memory_in_heap(): after it, a large block comes from the heap instead of its own
// mmap, and freeing it leaves the heap at its size (what spares inference the page faults).
#include <gtest/gtest.h>

#include <cstdlib>
#include <cstring>

#include "launch/heap_policy.h"

#if defined(__GLIBC__)
#include <malloc.h>
#endif

namespace arena {
namespace {

#if defined(__GLIBC__)
TEST(HeapPolicy, LargeBlocksStayInTheHeap) {
  constexpr size_t kBlock = size_t{64} << 20;  // far above glibc's mmap threshold (at most 32 MiB)
  // Before: glibc maps such a block on its own.
  void* mapped = std::malloc(kBlock);
  ASSERT_NE(mapped, nullptr);
  EXPECT_GE(mallinfo2().hblkhd, kBlock) << "glibc served a 64 MiB block from the heap already";
  std::free(mapped);

  ASSERT_TRUE(keep_freed_memory_in_heap());
  ASSERT_TRUE(keep_freed_memory_in_heap());  // idempotent
  const size_t mapped_before = mallinfo2().hblkhd;
  void* p = std::malloc(kBlock);
  ASSERT_NE(p, nullptr);
  std::memset(p, 1, kBlock);
  EXPECT_EQ(mallinfo2().hblkhd, mapped_before) << "the block was mmapped";
  EXPECT_GE(mallinfo2().arena, kBlock);
  std::free(p);
  EXPECT_GE(mallinfo2().arena, kBlock) << "the heap shrank on free";
}
#else
TEST(HeapPolicy, OffGlibcItChangesNothing) { EXPECT_FALSE(keep_freed_memory_in_heap()); }
#endif

}  // namespace
}  // namespace arena
