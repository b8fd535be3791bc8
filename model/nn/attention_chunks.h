// How the fused attention core (model/nn/softcap_attention.h) splits its [S×S] work into chunks of
// query positions. With a causal mask, the chunk of positions [begin, end) sees only keys
// [0, end): its score, probability and gradient buffers are [rows × keys(end)], so the GEMMs and
// row kernels skip most of the masked upper triangle instead of computing it and masking it away.
// No torch types: the plan is plain arithmetic, tested on the CPU (tests/model/nn).
#pragma once

#include <cstdint>
#include <vector>

namespace arena {

struct AttentionChunk {
  int64_t begin = 0;      // first query position
  int64_t end = 0;        // one past the last; the chunk's queries see keys [key_begin, end)
  int64_t key_begin = 0;  // 0 unless a sliding window hides the earlier keys from every query
  int64_t positions() const { return end - begin; }
  int64_t keys() const { return end - key_begin; }
};

// Keys rounded up to a multiple of 8: a [rows × keys] bf16 buffer then has 16-byte aligned rows
// and the GEMM reductions over keys are multiples of 8, which cuBLAS's fast kernels need.
int64_t padded_keys(int64_t keys);

// Bytes of one chunk's [B·H·positions × padded_keys(end)] buffer.
int64_t attention_chunk_bytes(int64_t batch, int64_t heads, int64_t element_size, const AttentionChunk& c);

// Chunks covering positions [0, seq) in order. When the whole square fits kAttentionChunkBytes
// it is one chunk: the forward then keeps its scores for backward, and short or batch-1 calls,
// whose kernels are too short to hide their launches, get no more of them. Otherwise each chunk is
// at most kAttentionChunkPositions long and holds at most kAttentionChunkBytes per buffer
// (backward holds three such buffers at once), but never fewer than 64 positions. Every chunk but
// the last is a multiple of 64 positions long, so that its B·H·positions rows keep the GEMMs on
// aligned tiles.
constexpr int64_t kAttentionChunkBytes = int64_t{64} << 20;
constexpr int64_t kAttentionChunkPositions = 512;
std::vector<AttentionChunk> plan_attention_chunks(int64_t batch, int64_t heads, int64_t seq, int64_t element_size);

// The CPU core's chunks (model/nn/chunked_attention.h): positions [0, seq) in chunks of one length,
// the longest multiple of 16 up to kCpuChunkPositions whose [B·H·positions × seq] buffer fits
// kCpuChunkBytes (at least 16 positions; the last chunk takes the rest). With window > 0 each
// chunk's keys start at begin - window + 1: the sliding mask hides every earlier key from all of its
// queries (attention_mask.h), so those keys are never read.
constexpr int64_t kCpuChunkBytes = int64_t{4} << 20;
constexpr int64_t kCpuChunkPositions = 256;
std::vector<AttentionChunk> plan_cpu_attention_chunks(int64_t batch, int64_t heads, int64_t seq, int64_t element_size,
                                                      int64_t window);

}  // namespace arena
