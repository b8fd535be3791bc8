// The flash-style backward of the soft-capped attention core (flash_forward.cuh has the forward and
// the layout). Two kernels, no atomics and no S×S buffer:
//   dq kernel:     per block of 64 query rows, over the key tiles its causal rows see: recomputes
//                  p = exp(z − lse) and dP = dO·vᵀ, dS = p·(dP − δ)·(1 − t²)·scale, dq += dS·k. It
//                  first writes δ = Σ_d dO·O per row (= Σ_k p·dP), which the other kernel reads.
//   dk/dv kernel:  per block of 64 keys, over the query rows that see them (32 at a time): the same
//                  p and dS, transposed, dv += pᵀ·dO and dk += dSᵀ·q. The G query heads of a KV head
//                  are rows of the same batch, so their contributions sum in the accumulators.
// p and dS are rounded to bf16 before they enter a product (as the forward rounds p); the sums are
// fp32 and each gradient is rounded once.
//
// Like the forward, written only in the names of kernel_primitives.cuh or tests/cuda_emu/cuda_emu.h.
#pragma once

#include <math.h>

#include <cstdint>

#include "model/cuda/flash_forward.cuh"

namespace arena::cuda::flash {

struct BackwardParams {
  const uint16_t* q;     // [batches, rows, D]
  const uint16_t* k;     // [batches, key_rows, D]
  const uint16_t* v;     // [batches, key_rows, D]
  const uint16_t* bias;  // as in ForwardParams
  const uint16_t* out;   // the forward's output in o_proj's layout [B, S, KV·G, D]
  const uint16_t* dout;  // its gradient, position-major [batches, rows, D]
  const float* lse;      // [batches, rows], the forward's
  float* delta;          // [batches, rows]: written by the dq kernel, read by the dk/dv kernel
  uint16_t* dq;          // [batches, rows, D]
  uint16_t* dk;          // [batches, key_rows, D] (rows from seq on: zeros)
  uint16_t* dv;
  int64_t kv_heads, groups, seq, rows, key_rows, bias_batch_stride, bias_ld;
  float scale, cap;
};

// z and dz/d(s·scale) of one raw score s with its bias.
ARENA_DEVICE float capped_score_slope(float s, float bias, float scale, float cap, float* slope) {
  const float x = s * scale;
  if (cap > 0.f) {
    const float th = tanhf(x / cap);
    *slope = 1.f - th * th;
    return cap * th + bias;
  }
  *slope = 1.f;
  return x + bias;
}

constexpr int kDqTileKeys = 32;

template <int D>
struct DqSmem {
  static constexpr int ld = D + kSmemPad;  // q, dO, k and v rows
  static constexpr int q_words = kBlockRows * ld;
  static constexpr int k_words = kDqTileKeys * ld;
  static constexpr size_t bytes = sizeof(uint16_t) * (2 * q_words + 2 * k_words);
};

// Grid: x = row blocks of 64 (row_block()), y = batches; kThreads threads; DqSmem<D>::bytes.
template <int D>
ARENA_KERNEL void ARENA_LAUNCH_BOUNDS(kThreads) flash_dq_kernel(BackwardParams p) {
  using L = DqSmem<D>;
  constexpr int kChunks = D / 8;
  constexpr int kKeyFrags = kDqTileKeys / 8;
  constexpr int kOutFrags = D / 8;

  uint16_t* qs = dynamic_smem<uint16_t>();
  uint16_t* dos = qs + L::q_words;
  uint16_t* ks = dos + L::q_words;
  uint16_t* vs = ks + L::k_words;
  const int tid = thread_x();
  const int warp = tid / 32, lane = tid % 32, g = lane / 4, t = lane % 4;
  const int64_t batch = block_y();
  const auto [r0, tiles] = row_block(p.rows, p.groups, p.seq, kDqTileKeys);
  const int64_t b = batch / p.kv_heads, kv = batch % p.kv_heads, heads = p.kv_heads * p.groups;
  const uint16_t* k = p.k + batch * p.key_rows * D;
  const uint16_t* v = p.v + batch * p.key_rows * D;

  load_rows<D>(qs, L::ld, p.q + batch * p.rows * D, r0, kBlockRows, p.rows, tid, kThreads);
  load_rows<D>(dos, L::ld, p.dout + batch * p.rows * D, r0, kBlockRows, p.rows, tid, kThreads);
  block_sync();

  // δ for the warp's 16 rows (every lane gets each row's sum), and lse; rows past the end: p = 0.
  float delta[2] = {0.f, 0.f}, lse[2];
  const uint16_t* bias_row[2];
  for (int rr = 0; rr < 16; ++rr) {
    const int64_t row = r0 + warp * 16 + rr;
    float part = 0.f;
    if (row < p.rows) {
      const int64_t position = row / p.groups, head = kv * p.groups + row % p.groups;
      const uint16_t* o = p.out + ((b * p.seq + position) * heads + head) * D;
      for (int c = lane; c < kChunks; c += 32) {
        const Vec16 ov = load_vec16(o + c * 8);
        for (int e = 0; e < 8; ++e)
          part += bf16_word(vec16_element(ov, e)) * bf16_word(dos[(warp * 16 + rr) * L::ld + c * 8 + e]);
      }
    }
    ARENA_UNROLL
    for (int m = 16; m > 0; m /= 2) part += shfl_xor(part, m);
    if (rr == g) delta[0] = part;
    if (rr == g + 8) delta[1] = part;
    if (lane == 0 && row < p.rows) p.delta[batch * p.rows + row] = part;
  }
  for (int h = 0; h < 2; ++h) {
    const int64_t row = r0 + warp * 16 + g + 8 * h;
    lse[h] = row < p.rows ? p.lse[batch * p.rows + row] : INFINITY;
    const int64_t position = (row < p.rows ? row : p.rows - 1) / p.groups;
    bias_row[h] = p.bias + b * p.bias_batch_stride + position * p.bias_ld;
  }

  float dq[kOutFrags][4];
  mma::clear(dq);
  for (int64_t tile = 0; tile < tiles; ++tile) {
    const int64_t k0 = tile * kDqTileKeys;
    block_sync();
    load_rows<D>(ks, L::ld, k, k0, kDqTileKeys, p.key_rows, tid, kThreads);
    load_rows<D>(vs, L::ld, v, k0, kDqTileKeys, p.key_rows, tid, kThreads);
    block_sync();

    // s = q·kᵀ and dP = dO·vᵀ for the warp's 16 rows and the tile's 32 keys.
    float s[kKeyFrags][4], dp[kKeyFrags][4];
    mma::clear(s);
    mma::clear(dp);
    mma::rows_times<kKeyFrags, D, mma::B::kRows>(s, qs + warp * 16 * L::ld, L::ld, ks, L::ld, lane);
    mma::rows_times<kKeyFrags, D, mma::B::kRows>(dp, dos + warp * 16 * L::ld, L::ld, vs, L::ld, lane);

    // dS into s (keys from seq on: 0).
    ARENA_UNROLL
    for (int n = 0; n < kKeyFrags; ++n) {
      ARENA_UNROLL
      for (int i = 0; i < 4; ++i) {
        const int64_t key = k0 + n * 8 + 2 * t + i % 2;
        const int h = i / 2;
        float ds = 0.f;
        if (key < p.seq) {
          float slope;
          const float z = capped_score_slope(s[n][i], bf16_word(bias_row[h][key]), p.scale, p.cap, &slope);
          ds = expf(z - lse[h]) * (dp[n][i] - delta[h]) * slope * p.scale;
        }
        s[n][i] = ds;
      }
    }

    // dq += dS·k (dS rounded to bf16).
    mma::fragments_times_tile<kOutFrags, kKeyFrags>(dq, s, ks, L::ld, lane);
  }

  ARENA_UNROLL
  for (int h = 0; h < 2; ++h) {
    const int64_t row = r0 + warp * 16 + g + 8 * h;
    if (row < p.rows) mma::store_row(p.dq + (batch * p.rows + row) * D, dq, h, 1.f, lane);
  }
}

constexpr int kDkvWarps = 8;
constexpr int kDkvThreads = 32 * kDkvWarps;
constexpr int kDkvBlockKeys = 64;  // keys per block: 16 per warp pair
constexpr int kDkvTileRows = 32;   // query rows per step

template <int D>
struct DkvSmem {
  static constexpr int ld = D + kSmemPad;                // k, v, q and dO rows
  static constexpr int t_ld = kDkvTileRows + kSmemPad;   // pᵀ and dSᵀ rows (one per key)
  static constexpr int kv_words = kDkvBlockKeys * ld;
  static constexpr int q_words = kDkvTileRows * ld;
  static constexpr int pt_words = kDkvBlockKeys * t_ld;
  static constexpr size_t bytes =
      sizeof(uint16_t) * (2 * kv_words + 2 * q_words + 2 * pt_words) + 2 * sizeof(float) * kDkvTileRows;
};

// Grid: x = key blocks of 64 (the first, which the most rows see, first), y = batches;
// kDkvThreads threads; DkvSmem<D>::bytes. Needs the dq kernel's δ.
// Warp w: keys 16·(w % 4) of the block; for the scores, query rows 16·(w / 4) of the step; for the
// gradients, head-dim half w / 4.
template <int D>
ARENA_KERNEL void ARENA_LAUNCH_BOUNDS(kDkvThreads) flash_dkv_kernel(BackwardParams p) {
  using L = DkvSmem<D>;
  constexpr int kHalfFrags = D / 16;  // 8-wide fragments in half the head dim

  uint16_t* ks = dynamic_smem<uint16_t>();
  uint16_t* vs = ks + L::kv_words;
  uint16_t* qs = vs + L::kv_words;
  uint16_t* dos = qs + L::q_words;
  uint16_t* pt = dos + L::q_words;
  uint16_t* dst = pt + L::pt_words;
  float* lse_s = reinterpret_cast<float*>(dst + L::pt_words);
  float* delta_s = lse_s + kDkvTileRows;
  const int tid = thread_x();
  const int warp = tid / 32, lane = tid % 32, g = lane / 4, t = lane % 4;
  const int kw = warp % 4, hw = warp / 4;
  const int64_t batch = block_y();
  const int64_t k0 = block_x() * kDkvBlockKeys;
  const int64_t b = batch / p.kv_heads;
  const uint16_t* bias = p.bias + b * p.bias_batch_stride;

  load_rows<D>(ks, L::ld, p.k + batch * p.key_rows * D, k0, kDkvBlockKeys, p.key_rows, tid, kDkvThreads);
  load_rows<D>(vs, L::ld, p.v + batch * p.key_rows * D, k0, kDkvBlockKeys, p.key_rows, tid, kDkvThreads);

  float dk[kHalfFrags][4], dv[kHalfFrags][4];
  mma::clear(dk);
  mma::clear(dv);

  // Rows before the block's first key's position see none of its keys (causal).
  const int64_t first = k0 * p.groups / kDkvTileRows * kDkvTileRows;
  for (int64_t r0 = first; r0 < p.rows; r0 += kDkvTileRows) {
    block_sync();  // the previous step's readers are done
    load_rows<D>(qs, L::ld, p.q + batch * p.rows * D, r0, kDkvTileRows, p.rows, tid, kDkvThreads);
    load_rows<D>(dos, L::ld, p.dout + batch * p.rows * D, r0, kDkvTileRows, p.rows, tid, kDkvThreads);
    for (int r = tid; r < kDkvTileRows; r += kDkvThreads) {
      const bool in = r0 + r < p.rows;
      lse_s[r] = in ? p.lse[batch * p.rows + r0 + r] : INFINITY;
      delta_s[r] = in ? p.delta[batch * p.rows + r0 + r] : 0.f;
    }
    block_sync();

    // sᵀ = k·qᵀ and dPᵀ = v·dOᵀ: the warp's 16 keys × 16 rows (two 8-wide fragments).
    float s[2][4], dp[2][4];
    mma::clear(s);
    mma::clear(dp);
    mma::rows_times<2, D, mma::B::kRows>(s, ks + kw * 16 * L::ld, L::ld, qs + hw * 16 * L::ld, L::ld, lane);
    mma::rows_times<2, D, mma::B::kRows>(dp, vs + kw * 16 * L::ld, L::ld, dos + hw * 16 * L::ld, L::ld, lane);
    // pᵀ and dSᵀ into shared memory, bf16: row = key of the block, column = row of the step.
    ARENA_UNROLL
    for (int n = 0; n < 2; ++n) {
      ARENA_UNROLL
      for (int h = 0; h < 2; ++h) {
        const int key_row = kw * 16 + g + 8 * h;
        const int64_t key = k0 + key_row;
        float prob[2] = {0.f, 0.f}, ds[2] = {0.f, 0.f};
        ARENA_UNROLL
        for (int e = 0; e < 2; ++e) {
          const int col = hw * 16 + n * 8 + 2 * t + e;
          const int64_t row = r0 + col;
          if (key < p.seq && row < p.rows) {
            float slope;
            const float z = capped_score_slope(s[n][2 * h + e], bf16_word(bias[(row / p.groups) * p.bias_ld + key]),
                                               p.scale, p.cap, &slope);
            prob[e] = expf(z - lse_s[col]);
            ds[e] = prob[e] * (dp[n][2 * h + e] - delta_s[col]) * slope * p.scale;
          }
        }
        const int col0 = hw * 16 + n * 8 + 2 * t;
        store_u32(pt + key_row * L::t_ld + col0, pack_bf16(prob[0], prob[1]));
        store_u32(dst + key_row * L::t_ld + col0, pack_bf16(ds[0], ds[1]));
      }
    }
    block_sync();

    // dv += pᵀ·dO and dk += dSᵀ·q over the step's 32 rows, for head-dim half hw.
    constexpr auto kTile = mma::B::kTile;
    const int d0 = hw * (D / 2);
    mma::rows_times<kHalfFrags, kDkvTileRows, kTile>(dv, pt + kw * 16 * L::t_ld, L::t_ld, dos + d0, L::ld, lane);
    mma::rows_times<kHalfFrags, kDkvTileRows, kTile>(dk, dst + kw * 16 * L::t_ld, L::t_ld, qs + d0, L::ld, lane);
  }

  ARENA_UNROLL
  for (int h = 0; h < 2; ++h) {
    const int64_t key = k0 + kw * 16 + g + 8 * h;
    if (key >= p.key_rows) continue;
    mma::store_row(p.dk + (batch * p.key_rows + key) * D + hw * (D / 2), dk, h, 1.f, lane);
    mma::store_row(p.dv + (batch * p.key_rows + key) * D + hw * (D / 2), dv, h, 1.f, lane);
  }
}

}  // namespace arena::cuda::flash
