// The chunk plans of the fused (CUDA) and chunked (CPU) attention cores (model/nn/attention_chunks.h):
// plain arithmetic. tests/model/nn/test_softcap_attention_cuda.cpp and test_chunked_attention.cpp
// run the chunks themselves.
#include <gtest/gtest.h>

#include <algorithm>

#include "model/nn/attention_chunks.h"

namespace arena {
namespace {

// The invariants every plan must keep, for one shape.
void expect_valid_plan(int64_t batch, int64_t heads, int64_t seq, int64_t element_size) {
  SCOPED_TRACE(::testing::Message() << "B=" << batch << " H=" << heads << " S=" << seq << " bytes=" << element_size);
  const auto chunks = plan_attention_chunks(batch, heads, seq, element_size);
  ASSERT_FALSE(chunks.empty());
  int64_t next = 0;
  for (size_t i = 0; i < chunks.size(); ++i) {
    const auto& c = chunks[i];
    EXPECT_EQ(c.begin, next) << "chunk " << i << " leaves a gap or overlaps";
    EXPECT_GT(c.positions(), 0);
    if (c.positions() > 64) EXPECT_LE(attention_chunk_bytes(batch, heads, element_size, c), kAttentionChunkBytes);
    if (chunks.size() > 1) {  // one chunk: the whole square within the budget
      EXPECT_LE(c.positions(), kAttentionChunkPositions);
      if (i + 1 < chunks.size()) EXPECT_EQ(c.positions() % 64, 0) << "chunk " << i;
    }
    next = c.end;
  }
  EXPECT_EQ(next, seq);
}

TEST(AttentionChunks, CoverEverySequenceWithinTheBudget) {
  for (const int64_t seq : {1, 7, 37, 64, 65, 300, 512, 513, 700, 1900, 4096, 5000, 8192})
    for (const int64_t batch : {1, 2, 4, 8, 32})
      for (const int64_t element_size : {2, 4}) expect_valid_plan(batch, 8, seq, element_size);
}

TEST(AttentionChunks, OneChunkWhenTheSquareFits) {
  // Batch 1 at 1900: 8 × 1900 × 1904 × 2 bytes = 58 MB, within 64 MiB: one chunk, as before.
  const auto one = plan_attention_chunks(1, 8, 1900, 2);
  ASSERT_EQ(one.size(), 1u);
  EXPECT_EQ(one[0].end, 1900);
  // Batch 2 (116 MB) splits.
  EXPECT_EQ(plan_attention_chunks(2, 8, 1900, 2).size(), 4u);
}

TEST(AttentionChunks, GemmaBatchFourAtSeq1900) {
  // 4 × 8 heads × bf16: 512-position chunks fit (the last, 364 × 1904 keys, is 44 MB).
  const auto chunks = plan_attention_chunks(4, 8, 1900, 2);
  ASSERT_EQ(chunks.size(), 4u);
  EXPECT_EQ(chunks[0].end, 512);
  EXPECT_EQ(chunks[1].end, 1024);
  EXPECT_EQ(chunks[2].end, 1536);
  EXPECT_EQ(chunks[3].end, 1900);
  // The [rows × keys] area is 63 % of the full square's.
  int64_t area = 0;
  for (const auto& c : chunks) area += c.positions() * padded_keys(c.end);
  EXPECT_NEAR(static_cast<double>(area) / (1900.0 * padded_keys(1900)), 0.63, 0.01);
}

TEST(AttentionChunks, ShrinksToTheBudgetInStepsOf64) {
  // 32 × 8 heads × fp32 = 1 KiB per [position × key]: 64 MiB holds 65,536 of them.
  const auto chunks = plan_attention_chunks(32, 8, 1000, 4);
  EXPECT_EQ(chunks[0].end, 256);   // 256 × 256 = 65,536
  EXPECT_EQ(chunks[1].end, 384);   // 128 × 384 = 49,152 (192 × 448 would be 86,016)
  EXPECT_EQ(chunks.back().end, 1000);
  // Past the budget even at 64 positions: 64 it is, never fewer.
  const auto huge = plan_attention_chunks(256, 8, 4096, 4);
  for (size_t i = 0; i + 1 < huge.size(); ++i) EXPECT_EQ(huge[i].positions(), 64) << i;
}

TEST(AttentionChunks, PaddedKeys) {
  EXPECT_EQ(padded_keys(1), 8);
  EXPECT_EQ(padded_keys(8), 8);
  EXPECT_EQ(padded_keys(1900), 1904);
}

// The CPU plan: equal chunks (multiples of 16, the last one the rest) within the byte budget, and
// keys starting where the window lets the chunk's first query see.
TEST(AttentionChunks, CpuPlanCoversTheSequenceAndSkipsOnlyHiddenKeys) {
  for (const int64_t seq : {1, 15, 17, 256, 600, 1900, 8192}) {
    for (const int64_t window : {0, 1, 100, 512, 4096}) {
      for (const int64_t batch : {1, 4, 16}) {
        SCOPED_TRACE(::testing::Message() << "S=" << seq << " window=" << window << " B=" << batch);
        const auto chunks = plan_cpu_attention_chunks(batch, 8, seq, 4, window);
        ASSERT_FALSE(chunks.empty());
        int64_t next = 0;
        for (size_t i = 0; i < chunks.size(); ++i) {
          const auto& c = chunks[i];
          EXPECT_EQ(c.begin, next);
          EXPECT_GT(c.positions(), 0);
          if (i + 1 < chunks.size()) {
            EXPECT_EQ(c.positions(), chunks[0].positions());
            EXPECT_EQ(c.positions() % 16, 0);
            EXPECT_LE(c.positions(), kCpuChunkPositions);
          }
          if (c.positions() > 16) EXPECT_LE(batch * 8 * c.positions() * seq * 4, kCpuChunkBytes);
          // The first query (c.begin) sees keys from c.begin - window + 1 on; later ones see less.
          EXPECT_EQ(c.key_begin, window > 0 ? std::max<int64_t>(0, c.begin - window + 1) : 0);
          EXPECT_EQ(c.keys(), c.end - c.key_begin);
          next = c.end;
        }
        EXPECT_EQ(next, seq);
      }
    }
  }
}

}  // namespace
}  // namespace arena
