#include "model/nn/attention_chunks.h"

#include <algorithm>

namespace arena {

int64_t padded_keys(int64_t keys) { return (keys + 7) / 8 * 8; }

int64_t attention_chunk_bytes(int64_t batch, int64_t heads, int64_t element_size, const AttentionChunk& c) {
  return batch * heads * c.positions() * padded_keys(c.end) * element_size;
}

std::vector<AttentionChunk> plan_attention_chunks(int64_t batch, int64_t heads, int64_t seq, int64_t element_size) {
  std::vector<AttentionChunk> chunks;
  if (attention_chunk_bytes(batch, heads, element_size, {0, seq}) <= kAttentionChunkBytes) return {{0, seq}};
  for (int64_t begin = 0; begin < seq;) {
    AttentionChunk c{begin, begin + std::min(kAttentionChunkPositions, seq - begin)};
    // Shrink to the next lower multiple of 64 until the buffer fits (a tail of 500 becomes 448).
    while (c.positions() > 64 && attention_chunk_bytes(batch, heads, element_size, c) > kAttentionChunkBytes) {
      c.end = begin + (c.positions() - 1) / 64 * 64;
    }
    chunks.push_back(c);
    begin = c.end;
  }
  return chunks;
}

std::vector<AttentionChunk> plan_cpu_attention_chunks(int64_t batch, int64_t heads, int64_t seq, int64_t element_size,
                                                      int64_t window) {
  const int64_t row_bytes = std::max<int64_t>(1, batch * heads * seq * element_size);
  const int64_t fit = std::clamp<int64_t>(kCpuChunkBytes / row_bytes / 16 * 16, 16, kCpuChunkPositions);
  std::vector<AttentionChunk> chunks;
  for (int64_t begin = 0; begin < seq; begin += fit) {
    const int64_t end = std::min(seq, begin + fit);
    chunks.push_back({begin, end, window > 0 ? std::max<int64_t>(0, begin - window + 1) : 0});
  }
  return chunks;
}

}  // namespace arena
