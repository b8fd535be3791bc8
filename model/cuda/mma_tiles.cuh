// Warp-level tile products on the tensor cores for the flash kernels (flash_forward.cuh,
// flash_backward.cuh): operands from row-major bf16 shared memory through ldmatrix, or from score
// fragments a warp holds in registers; fp32 accumulators in mma.sync's C layout (fragment n holds
// columns 8n..8n+7 of the warp's 16 rows; kernel_primitives.cuh gives the layout).
//
// Like the kernels, written only in the names of kernel_primitives.cuh or tests/cuda_emu/cuda_emu.h.
#pragma once

#include <cstdint>

namespace arena::cuda::mma {

// The A fragment of the 16×16 tile whose top-left element is at x (ld elements per row).
ARENA_DEVICE void load_a(uint32_t (&a)[4], const uint16_t* x, int ld, int lane) {
  const int i = lane / 8, j = lane % 8;
  ldmatrix_x4(a, x + (j + 8 * (i % 2)) * ld + 8 * (i / 2));
}

// The B fragments of two adjacent 8-column groups of B = Xᵀ: X's 16 rows from x are B's columns,
// its 16 columns B's k (a key tile for q·kᵀ).
ARENA_DEVICE void load_b_of_rows(uint32_t (&b0)[2], uint32_t (&b1)[2], const uint16_t* x, int ld, int lane) {
  const int i = lane / 8, j = lane % 8;
  uint32_t r[4];
  ldmatrix_x4(r, x + (8 * (i / 2) + j) * ld + 8 * (i % 2));
  b0[0] = r[0], b0[1] = r[1], b1[0] = r[2], b1[1] = r[3];
}

// The B fragments of two adjacent 8-column groups of B = X itself: X's 16 rows from x are B's k,
// its 16 columns B's columns, loaded transposed (a value tile for p·v).
ARENA_DEVICE void load_b_of_columns(uint32_t (&b0)[2], uint32_t (&b1)[2], const uint16_t* x, int ld, int lane) {
  const int i = lane / 8, j = lane % 8;
  uint32_t r[4];
  ldmatrix_x4_trans(r, x + (8 * (i % 2) + j) * ld + 8 * (i / 2));
  b0[0] = r[0], b0[1] = r[1], b1[0] = r[2], b1[1] = r[3];
}

// Where a product's B operand comes from: kRows, B = Xᵀ for the 8·N rows of X at x, each K long
// (q·kᵀ, dO·vᵀ, k·qᵀ); kTile, B = X for the K rows of X at x, 8·N columns (pᵀ·dO, dSᵀ·q).
enum class B { kRows, kTile };

// acc += A·B, A the 16 rows at a, K elements long.
template <int N, int K, B kFrom>
ARENA_DEVICE void rows_times(float (&acc)[N][4], const uint16_t* a, int lda, const uint16_t* x, int ldx,
                             int lane) {
  static_assert(N % 2 == 0 && K % 16 == 0, "tiles of 16 columns and 16-deep steps");
  ARENA_UNROLL
  for (int kk = 0; kk < K; kk += 16) {
    uint32_t fa[4];
    load_a(fa, a + kk, lda, lane);
    ARENA_UNROLL
    for (int n = 0; n < N; n += 2) {
      uint32_t b0[2], b1[2];
      if constexpr (kFrom == B::kRows) {
        load_b_of_rows(b0, b1, x + n * 8 * ldx + kk, ldx, lane);
      } else {
        load_b_of_columns(b0, b1, x + kk * ldx + n * 8, ldx, lane);
      }
      mma_bf16_16816(acc[n], fa, b0);
      mma_bf16_16816(acc[n + 1], fa, b1);
    }
  }
}

// acc += P·X: P the warp's 16 × 8·KF tile held as fp32 C fragments (rounded to bf16 here: two
// adjacent fragments are one A fragment), X the 8·KF rows at x, 8·N columns (p·v, dS·k).
template <int N, int KF>
ARENA_DEVICE void fragments_times_tile(float (&acc)[N][4], const float (&p)[KF][4], const uint16_t* x, int ldx,
                                       int lane) {
  static_assert(N % 2 == 0 && KF % 2 == 0, "tiles of 16 columns and 16-deep steps");
  ARENA_UNROLL
  for (int kk = 0; kk < KF / 2; ++kk) {
    const uint32_t fa[4] = {pack_bf16(p[2 * kk][0], p[2 * kk][1]), pack_bf16(p[2 * kk][2], p[2 * kk][3]),
                            pack_bf16(p[2 * kk + 1][0], p[2 * kk + 1][1]),
                            pack_bf16(p[2 * kk + 1][2], p[2 * kk + 1][3])};
    ARENA_UNROLL
    for (int n = 0; n < N; n += 2) {
      uint32_t b0[2], b1[2];
      load_b_of_columns(b0, b1, x + kk * 16 * ldx + n * 8, ldx, lane);
      mma_bf16_16816(acc[n], fa, b0);
      mma_bf16_16816(acc[n + 1], fa, b1);
    }
  }
}

// Row h (0: the lane's row g, 1: row g + 8) of a 16 × 8·N accumulator tile, times `scale`, rounded
// to bf16 and stored at out (that row's first column in global memory).
template <int N>
ARENA_DEVICE void store_row(uint16_t* out, const float (&acc)[N][4], int h, float scale, int lane) {
  const int t = lane % 4;
  ARENA_UNROLL
  for (int n = 0; n < N; ++n)
    store_u32(out + n * 8 + 2 * t, pack_bf16(acc[n][2 * h] * scale, acc[n][2 * h + 1] * scale));
}

// Zeroes an accumulator tile.
template <int N>
ARENA_DEVICE void clear(float (&acc)[N][4]) {
  ARENA_UNROLL
  for (int n = 0; n < N; ++n) acc[n][0] = acc[n][1] = acc[n][2] = acc[n][3] = 0.f;
}

}  // namespace arena::cuda::mma
