// The flash-style forward of the soft-capped attention core: softmax(cap·tanh(q·kᵀ·scale/cap) + bias)·v
// with the scores of one key tile at a time in registers and an online softmax, so no S×S buffer
// exists. bf16 in, fp32 accumulation (tensor-core mma.sync, sm_80 and later), bf16 out, and the
// fp32 log-sum-exp per row that the backward reads (flash_backward.cuh).
//
// Layout (the fused core's, softcap_attention.cpp): a batch g = b·KV + kv holds one KV head with its
// G query heads, position-major: query row r is head kv·G + r % G at position r / G. So one key
// tile serves all G heads of its KV head, and a block of 64 rows sees keys up to its last
// position only (the bias is causal, as attention_bias() builds it).
//
// Written only in the names of kernel_primitives.cuh (CUDA) or tests/cuda_emu/cuda_emu.h (the CPU
// emulation the unit test runs), one of which must be included first.
#pragma once

#include <math.h>

#include <cstdint>

#include "model/cuda/mma_tiles.cuh"

namespace arena::cuda::flash {

constexpr int kWarps = 4;
constexpr int kThreads = 32 * kWarps;
constexpr int kBlockRows = 16 * kWarps;  // query rows per block: 16 per warp
constexpr int kTileKeys = 64;            // keys per tile
constexpr int kSmemPad = 8;              // bf16 words after each shared-memory row: conflict-free fragment loads

// Shared memory of one block: the query rows [64][D] and one tile of keys and of values [64][D],
// each row padded by 16 bytes (8 rows of a fragment load then fall in distinct banks).
template <int D>
struct ForwardSmem {
  static constexpr int ld = D + kSmemPad;
  static constexpr int q_words = kBlockRows * ld;
  static constexpr int k_words = kTileKeys * ld;
  static constexpr size_t bytes = sizeof(uint16_t) * (q_words + 2 * k_words);
};

struct ForwardParams {
  const uint16_t* q;     // [batches, rows, D] bf16, contiguous
  const uint16_t* k;     // [batches, key_rows, D]; rows from seq on are never used
  const uint16_t* v;     // the same layout as k
  const uint16_t* bias;  // [B|1, 1, seq, ...]: row p at p·bias_ld, batch b at b·bias_batch_stride; finite
  uint16_t* out;         // [batches, rows, D]
  float* lse;            // [batches, rows]
  int64_t kv_heads;      // KV: batch g belongs to sequence g / KV
  int64_t groups;        // G query heads per KV head
  int64_t seq;           // S positions (and keys)
  int64_t rows;          // S·G
  int64_t key_rows;      // rows of k and v per batch (>= seq)
  int64_t bias_batch_stride, bias_ld;
  float scale, cap;      // cap <= 0: no soft-cap
};

// rows [first, first + count) of a [.., D] bf16 array at src into shared rows of ld elements at
// dst, 16 bytes per access, by the block's `threads` threads; rows from `end` on become zeros.
template <int D>
ARENA_DEVICE void load_rows(uint16_t* dst, int ld, const uint16_t* src, int64_t first, int count, int64_t end,
                            int tid, int threads) {
  constexpr int kChunks = D / 8;
  for (int c = tid; c < count * kChunks; c += threads) {
    const int r = c / kChunks, col = (c % kChunks) * 8;
    Vec16 val{};
    if (first + r < end) val = load_vec16(src + (first + r) * D + col);
    store_vec16(dst + r * ld + col, val);
  }
}

// The block of kBlockRows query rows this block owns (the last rows, which see the most keys, run
// first) and the number of key tiles of `tile_keys` its causal rows see.
struct RowBlock {
  int64_t r0, tiles;
};
ARENA_DEVICE RowBlock row_block(int64_t rows, int64_t groups, int64_t seq, int tile_keys) {
  const int64_t r0 = (grid_x() - 1 - block_x()) * kBlockRows;
  const int64_t last_row = (r0 + kBlockRows < rows ? r0 + kBlockRows : rows) - 1;
  const int64_t key_end = last_row / groups + 1 < seq ? last_row / groups + 1 : seq;
  return {r0, (key_end + tile_keys - 1) / tile_keys};
}

// cap·tanh(s·scale/cap), or s·scale without a cap.
ARENA_DEVICE float capped_score(float s, float scale, float cap) {
  const float x = s * scale;
  return cap > 0.f ? cap * tanhf(x / cap) : x;
}

// Grid: x = row blocks of 64 (row_block()), y = batches.
// Block: kThreads threads, ForwardSmem<D>::bytes of dynamic shared memory. Every thread reaches
// every barrier and warp operation; rows past `rows` compute on zeros and store nothing.
// Two bias words of adjacent keys are read as one 32-bit load (rows are 4-byte aligned: the
// alignment rule of attention_kernels.h); no column from seq on is read.
template <int D>
ARENA_KERNEL void ARENA_LAUNCH_BOUNDS(kThreads) flash_forward_kernel(ForwardParams p) {
  static_assert(D % 16 == 0, "head dim must be a multiple of 16");
  using L = ForwardSmem<D>;
  constexpr int kKeyFrags = kTileKeys / 8;
  constexpr int kOutFrags = D / 8;

  uint16_t* qs = dynamic_smem<uint16_t>();
  uint16_t* ks = qs + L::q_words;
  uint16_t* vs = ks + L::k_words;
  const int tid = thread_x();
  const int warp = tid / 32, lane = tid % 32, g = lane / 4, t = lane % 4;
  const int64_t batch = block_y();
  const auto [r0, tiles] = row_block(p.rows, p.groups, p.seq, kTileKeys);
  const uint16_t* q = p.q + batch * p.rows * D;
  const uint16_t* k = p.k + batch * p.key_rows * D;
  const uint16_t* v = p.v + batch * p.key_rows * D;

  // This thread's two rows of the warp's 16 (fragment rows g and g + 8) and their bias rows.
  int64_t row[2];
  const uint16_t* bias_row[2];
  for (int h = 0; h < 2; ++h) {
    row[h] = r0 + warp * 16 + g + 8 * h;
    const int64_t position = (row[h] < p.rows ? row[h] : p.rows - 1) / p.groups;
    bias_row[h] = p.bias + (batch / p.kv_heads) * p.bias_batch_stride + position * p.bias_ld;
  }

  load_rows<D>(qs, L::ld, q, r0, kBlockRows, p.rows, tid, kThreads);

  float o[kOutFrags][4];
  mma::clear(o);
  float m[2] = {-INFINITY, -INFINITY};  // running row maxima
  float l[2] = {0.f, 0.f};              // this thread's part of the running row sums

  for (int64_t tile = 0; tile < tiles; ++tile) {
    const int64_t k0 = tile * kTileKeys;
    block_sync();  // every warp is done with the previous tile
    load_rows<D>(ks, L::ld, k, k0, kTileKeys, p.key_rows, tid, kThreads);
    load_rows<D>(vs, L::ld, v, k0, kTileKeys, p.key_rows, tid, kThreads);
    block_sync();

    // s = q·kᵀ for the warp's 16 rows and the tile's 64 keys.
    float s[kKeyFrags][4];
    mma::clear(s);
    mma::rows_times<kKeyFrags, D, mma::B::kRows>(s, qs + warp * 16 * L::ld, L::ld, ks, L::ld, lane);

    // z = capped score + bias (keys from seq on: -inf), and the new row maxima over the quad.
    float mx[2] = {m[0], m[1]};
    ARENA_UNROLL
    for (int n = 0; n < kKeyFrags; ++n) {
      const int64_t key = k0 + n * 8 + 2 * t;
      ARENA_UNROLL
      for (int h = 0; h < 2; ++h) {
        float z0 = -INFINITY, z1 = -INFINITY;
        if (key + 1 < p.seq) {
          const uint32_t pair = load_u32(bias_row[h] + key);
          z0 = capped_score(s[n][2 * h], p.scale, p.cap) + bf16_low(pair);
          z1 = capped_score(s[n][2 * h + 1], p.scale, p.cap) + bf16_high(pair);
        } else if (key < p.seq) {  // the last key alone: nothing past it is read
          z0 = capped_score(s[n][2 * h], p.scale, p.cap) + bf16_word(bias_row[h][key]);
        }
        s[n][2 * h] = z0;
        s[n][2 * h + 1] = z1;
        mx[h] = fmaxf(mx[h], fmaxf(z0, z1));
      }
    }
    float alpha[2], base[2];
    ARENA_UNROLL
    for (int h = 0; h < 2; ++h) {
      mx[h] = fmaxf(mx[h], shfl_xor(mx[h], 1));
      mx[h] = fmaxf(mx[h], shfl_xor(mx[h], 2));
      base[h] = mx[h] == -INFINITY ? 0.f : mx[h];
      alpha[h] = expf(m[h] - base[h]);  // 0 on the first tile
      m[h] = mx[h];
    }
    float sum[2] = {0.f, 0.f};
    ARENA_UNROLL
    for (int n = 0; n < kKeyFrags; ++n) {
      ARENA_UNROLL
      for (int i = 0; i < 4; ++i) {
        s[n][i] = expf(s[n][i] - base[i / 2]);
        sum[i / 2] += s[n][i];
      }
    }
    ARENA_UNROLL
    for (int h = 0; h < 2; ++h) l[h] = l[h] * alpha[h] + sum[h];
    ARENA_UNROLL
    for (int f = 0; f < kOutFrags; ++f) {
      o[f][0] *= alpha[0];
      o[f][1] *= alpha[0];
      o[f][2] *= alpha[1];
      o[f][3] *= alpha[1];
    }

    // o += p·v (p rounded to bf16).
    mma::fragments_times_tile<kOutFrags, kKeyFrags>(o, s, vs, L::ld, lane);
  }

  ARENA_UNROLL
  for (int h = 0; h < 2; ++h) {
    l[h] += shfl_xor(l[h], 1);
    l[h] += shfl_xor(l[h], 2);
    if (row[h] >= p.rows) continue;
    mma::store_row(p.out + (batch * p.rows + row[h]) * D, o, h, l[h] > 0.f ? 1.f / l[h] : 0.f, lane);
    if (t == 0) p.lse[batch * p.rows + row[h]] = m[h] + logf(l[h]);
  }
}

}  // namespace arena::cuda::flash
