// The flash-style forward of the soft-capped attention core: softmax(cap·tanh(q·kᵀ·scale/cap) + bias)·v
// with the scores of one key tile at a time in registers and an online softmax, so no S×S buffer
// exists. bf16 in, fp32 accumulation (tensor-core mma.sync, sm_80 and later), bf16 out, and the
// fp32 log-sum-exp per row that the fused core's backward reads (attention_kernels.h).
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

// Fragment loads from row-major bf16 shared memory (ld elements per row), one ldmatrix.x4 each.
// The A fragment of the 16×16 tile whose top-left element is at x.
ARENA_DEVICE void load_a(uint32_t (&a)[4], const uint16_t* x, int ld, int lane) {
  const int i = lane / 8, j = lane % 8;
  ldmatrix_x4(a, x + (j + 8 * (i % 2)) * ld + 8 * (i / 2));
}
// The B fragments of two adjacent 8-column groups of B = Xᵀ, for X's 16 rows from x (B's columns)
// and 16 columns (B's k): a key tile for q·kᵀ.
ARENA_DEVICE void load_b_of_rows(uint32_t (&b0)[2], uint32_t (&b1)[2], const uint16_t* x, int ld, int lane) {
  const int i = lane / 8, j = lane % 8;
  uint32_t r[4];
  ldmatrix_x4(r, x + (8 * (i / 2) + j) * ld + 8 * (i % 2));
  b0[0] = r[0], b0[1] = r[1], b1[0] = r[2], b1[1] = r[3];
}
// The B fragments of two adjacent 8-column groups of B = X itself: X's 16 rows from x (B's k) and
// 16 columns (B's columns), loaded transposed: a value tile for p·v.
ARENA_DEVICE void load_b_of_columns(uint32_t (&b0)[2], uint32_t (&b1)[2], const uint16_t* x, int ld, int lane) {
  const int i = lane / 8, j = lane % 8;
  uint32_t r[4];
  ldmatrix_x4_trans(r, x + (8 * (i % 2) + j) * ld + 8 * (i / 2));
  b0[0] = r[0], b0[1] = r[1], b1[0] = r[2], b1[1] = r[3];
}

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

// cap·tanh(s·scale/cap), or s·scale without a cap.
ARENA_DEVICE float capped_score(float s, float scale, float cap) {
  const float x = s * scale;
  return cap > 0.f ? cap * tanhf(x / cap) : x;
}

// Grid: x = row blocks of 64 (the last rows, which see the most keys, start first), y = batches.
// Block: kThreads threads, ForwardSmem<D>::bytes of dynamic shared memory. Every thread reaches
// every barrier and warp operation; rows past `rows` compute on zeros and store nothing.
// Two bias words of adjacent keys are read as one 32-bit load (rows are 4-byte aligned: the
// alignment rule of attention_kernels.h); no column from seq on is read.
template <int D>
ARENA_KERNEL void ARENA_LAUNCH_BOUNDS(kThreads) flash_forward_kernel(ForwardParams p) {
  static_assert(D % 16 == 0, "head dim must be a multiple of 16");
  using L = ForwardSmem<D>;
  constexpr int kChunks = D / 8;  // 16-byte chunks per row
  constexpr int kKeyFrags = kTileKeys / 8;
  constexpr int kOutFrags = D / 8;

  uint16_t* qs = dynamic_smem<uint16_t>();
  uint16_t* ks = qs + L::q_words;
  uint16_t* vs = ks + L::k_words;
  const int tid = thread_x();
  const int warp = tid / 32, lane = tid % 32, g = lane / 4, t = lane % 4;
  const int64_t batch = block_y();
  const int64_t r0 = (grid_x() - 1 - block_x()) * kBlockRows;
  const int64_t block_rows = p.rows - r0 < kBlockRows ? p.rows - r0 : kBlockRows;
  const int64_t last_position = (r0 + block_rows - 1) / p.groups;
  const int64_t key_end = last_position + 1 < p.seq ? last_position + 1 : p.seq;  // causal
  const int64_t tiles = (key_end + kTileKeys - 1) / kTileKeys;
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

  for (int c = tid; c < kBlockRows * kChunks; c += kThreads) {
    const int r = c / kChunks, col = (c % kChunks) * 8;
    Vec16 val{};
    if (r < block_rows) val = load_vec16(q + (r0 + r) * D + col);
    store_vec16(qs + r * L::ld + col, val);
  }

  float o[kOutFrags][4];
  ARENA_UNROLL
  for (int f = 0; f < kOutFrags; ++f) o[f][0] = o[f][1] = o[f][2] = o[f][3] = 0.f;
  float m[2] = {-INFINITY, -INFINITY};  // running row maxima
  float l[2] = {0.f, 0.f};              // this thread's part of the running row sums

  for (int64_t tile = 0; tile < tiles; ++tile) {
    const int64_t k0 = tile * kTileKeys;
    block_sync();  // every warp is done with the previous tile
    for (int c = tid; c < kTileKeys * kChunks; c += kThreads) {
      const int r = c / kChunks, col = (c % kChunks) * 8;
      Vec16 kv{}, vv{};
      if (k0 + r < p.key_rows) {
        kv = load_vec16(k + (k0 + r) * D + col);
        vv = load_vec16(v + (k0 + r) * D + col);
      }
      store_vec16(ks + r * L::ld + col, kv);
      store_vec16(vs + r * L::ld + col, vv);
    }
    block_sync();

    // s = q·kᵀ for the warp's 16 rows and the tile's 64 keys.
    float s[kKeyFrags][4];
    ARENA_UNROLL
    for (int n = 0; n < kKeyFrags; ++n) s[n][0] = s[n][1] = s[n][2] = s[n][3] = 0.f;
    ARENA_UNROLL
    for (int kk = 0; kk < D; kk += 16) {
      uint32_t a[4];
      load_a(a, qs + warp * 16 * L::ld + kk, L::ld, lane);
      ARENA_UNROLL
      for (int n = 0; n < kKeyFrags; n += 2) {
        uint32_t b0[2], b1[2];
        load_b_of_rows(b0, b1, ks + n * 8 * L::ld + kk, L::ld, lane);
        mma_bf16_16816(s[n], a, b0);
        mma_bf16_16816(s[n + 1], a, b1);
      }
    }

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

    // o += p·v: the score fragments of two adjacent key groups are one bf16 A fragment.
    ARENA_UNROLL
    for (int kk = 0; kk < kTileKeys / 16; ++kk) {
      const uint32_t a[4] = {pack_bf16(s[2 * kk][0], s[2 * kk][1]), pack_bf16(s[2 * kk][2], s[2 * kk][3]),
                             pack_bf16(s[2 * kk + 1][0], s[2 * kk + 1][1]),
                             pack_bf16(s[2 * kk + 1][2], s[2 * kk + 1][3])};
      ARENA_UNROLL
      for (int f = 0; f < kOutFrags; f += 2) {
        uint32_t b0[2], b1[2];
        load_b_of_columns(b0, b1, vs + kk * 16 * L::ld + f * 8, L::ld, lane);
        mma_bf16_16816(o[f], a, b0);
        mma_bf16_16816(o[f + 1], a, b1);
      }
    }
  }

  ARENA_UNROLL
  for (int h = 0; h < 2; ++h) {
    l[h] += shfl_xor(l[h], 1);
    l[h] += shfl_xor(l[h], 2);
    if (row[h] >= p.rows) continue;
    const float inv = l[h] > 0.f ? 1.f / l[h] : 0.f;
    uint16_t* out_row = p.out + (batch * p.rows + row[h]) * D;
    ARENA_UNROLL
    for (int f = 0; f < kOutFrags; ++f) store_u32(out_row + f * 8 + 2 * t, pack_bf16(o[f][2 * h] * inv, o[f][2 * h + 1] * inv));
    if (t == 0) p.lse[batch * p.rows + row[h]] = m[h] + logf(l[h]);
  }
}

}  // namespace arena::cuda::flash
