#include "model/lora/lora_cpu_kernels.h"

#include <algorithm>
#include <cstring>
#include <vector>

#include "model/nn/cpu_loop_support.h"

namespace arena::cpu {
namespace {

using namespace loops;  // NOLINT: ld, st, raw, rounded, dropout_bits_block

constexpr int64_t kBlock = 2 * kDropoutBitsPairs;  // elements of a row per mask draw
constexpr int kLanes = 16;                         // independent partial sums: a fixed order

// The dropped values of x[first .. first + m) (the row's block starting at flat index `first`):
// keep ? round(v·scale) : 0, what seeded_dropout stores.
template <typename S>
ARENA_INLINE void dropped_block(const S* x, uint64_t first, int64_t m, DropoutMask mask, float* xd) {
  uint32_t bits[kBlock];
  dropout_bits_block(mask.seed, first, m, bits);
  for (int64_t k = 0; k < m; ++k) xd[k] = bits[k] >= mask.threshold ? rounded(ld(x, k) * mask.scale, x) : 0.0f;
}

// kLanes floats as one GCC vector: element-wise arithmetic (no reassociation, so the same bits in
// both clones), one AVX-512 register in the x86-64-v4 clone, four SSE registers in the baseline.
using Lanes = float __attribute__((vector_size(kLanes * sizeof(float))));
ARENA_INLINE Lanes load_lanes(const float* p) {
  Lanes v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
ARENA_INLINE void store_lanes(float* p, Lanes v) { std::memcpy(p, &v, sizeof v); }

// part[jj·kLanes + l] += Σ over k ≡ l (mod kLanes) of xd[k]·a[jj·in + k], for J adapter rows at once
// (J independent accumulators, so the adds do not wait on each other).
template <int J>
ARENA_INLINE void dot_tile(const float* __restrict__ xd, const float* __restrict__ a, int64_t in, int64_t m,
                           float* __restrict__ part) {
  Lanes acc[J];
  for (int jj = 0; jj < J; ++jj) acc[jj] = load_lanes(part + jj * kLanes);
  int64_t k = 0;
  for (; k + kLanes <= m; k += kLanes) {
    const Lanes v = load_lanes(xd + k);
    for (int jj = 0; jj < J; ++jj) acc[jj] += v * load_lanes(a + jj * in + k);
  }
  for (int jj = 0; jj < J; ++jj) {
    store_lanes(part + jj * kLanes, acc[jj]);
    for (int l = 0; k + l < m; ++l) part[jj * kLanes + l] += xd[k + l] * a[jj * in + k + l];
  }
}

template <typename S>
ARENA_INLINE void down_rows(const S* __restrict__ x, const float* __restrict__ a, S* __restrict__ out, int64_t row0,
                            int64_t row1, int64_t in, int64_t r, DropoutMask mask, float* part /* [r, kLanes] */) {
  constexpr int kTile = 4;
  float xd[kBlock];
  for (int64_t t = row0; t < row1; ++t) {
    std::fill(part, part + r * kLanes, 0.0f);
    for (int64_t i0 = 0; i0 < in; i0 += kBlock) {
      const int64_t m = std::min(kBlock, in - i0);
      dropped_block(x + t * in + i0, static_cast<uint64_t>(t * in + i0), m, mask, xd);
      int64_t j = 0;
      for (; j + kTile <= r; j += kTile) dot_tile<kTile>(xd, a + j * in + i0, in, m, part + j * kLanes);
      for (; j < r; ++j) dot_tile<1>(xd, a + j * in + i0, in, m, part + j * kLanes);
    }
    for (int64_t j = 0; j < r; ++j) {
      float sum = 0.0f;
      for (int l = 0; l < kLanes; ++l) sum += part[j * kLanes + l];
      st(out, t * r + j, sum);
    }
  }
}

template <bool kAdd, typename S>
ARENA_INLINE void input_grad_rows(const S* __restrict__ g, const float* __restrict__ a, const S* __restrict__ add,
                                  S* __restrict__ dx, int64_t row0, int64_t row1, int64_t in, int64_t r,
                                  DropoutMask mask, float* gr /* [r] */) {
  float u[kBlock];
  uint32_t bits[kBlock];
  for (int64_t t = row0; t < row1; ++t) {
    for (int64_t j = 0; j < r; ++j) gr[j] = ld(g, t * r + j);
    for (int64_t i0 = 0; i0 < in; i0 += kBlock) {
      const int64_t m = std::min(kBlock, in - i0);
      // u = Σ_j g[j]·a[j, ·] in j order, kLanes columns at a time in registers
      int64_t k = 0;
      for (; k + kLanes <= m; k += kLanes) {
        Lanes acc = gr[0] * load_lanes(a + i0 + k);
        for (int64_t j = 1; j < r; ++j) acc += gr[j] * load_lanes(a + j * in + i0 + k);
        store_lanes(u + k, acc);
      }
      for (; k < m; ++k) {
        float v = gr[0] * a[i0 + k];
        for (int64_t j = 1; j < r; ++j) v += gr[j] * a[j * in + i0 + k];
        u[k] = v;
      }
      dropout_bits_block(mask.seed, static_cast<uint64_t>(t * in + i0), m, bits);
      const int64_t base = t * in + i0;
      for (int64_t q = 0; q < m; ++q) {
        const float dropped = bits[q] >= mask.threshold ? rounded(rounded(u[q], dx) * mask.scale, dx) : 0.0f;
        if constexpr (kAdd) {
          st(dx, base + q, ld(add, base + q) + dropped);
        } else {
          st(dx, base + q, dropped);
        }
      }
    }
  }
}

// Rows kRows at a time: acc = (((acc + g0·xd0) + g1·xd1) + ...) in registers, the same sums in the
// same order as one row at a time, with a quarter of the accumulator's loads and stores.
template <typename S>
ARENA_INLINE void weight_grad_rows(const S* __restrict__ g, const S* __restrict__ x, float* __restrict__ acc,
                                   int64_t row0, int64_t row1, int64_t in, int64_t r, DropoutMask mask) {
  constexpr int kRows = 4;
  float xd[kRows][kBlock];
  for (int64_t t0 = row0; t0 < row1; t0 += kRows) {
    const int64_t rows = std::min<int64_t>(kRows, row1 - t0);
    for (int64_t i0 = 0; i0 < in; i0 += kBlock) {
      const int64_t m = std::min(kBlock, in - i0);
      for (int64_t q = 0; q < rows; ++q)
        dropped_block(x + (t0 + q) * in + i0, static_cast<uint64_t>((t0 + q) * in + i0), m, mask, xd[q]);
      for (int64_t j = 0; j < r; ++j) {
        float* accj = acc + j * in + i0;
        if (rows == kRows) {
          const float g0 = ld(g, t0 * r + j), g1 = ld(g, (t0 + 1) * r + j), g2 = ld(g, (t0 + 2) * r + j),
                      g3 = ld(g, (t0 + 3) * r + j);
          for (int64_t k = 0; k < m; ++k) {
            float v = accj[k];
            v += g0 * xd[0][k];
            v += g1 * xd[1][k];
            v += g2 * xd[2][k];
            v += g3 * xd[3][k];
            accj[k] = v;
          }
        } else {
          for (int64_t q = 0; q < rows; ++q) {
            const float gq = ld(g, (t0 + q) * r + j);
            for (int64_t k = 0; k < m; ++k) accj[k] += gq * xd[q][k];
          }
        }
      }
    }
  }
}

// One clone per storage type (overloads): target_clones does not apply to templates.
ARENA_CPU_CLONES void down_clone(const float* x, const float* a, float* out, int64_t row0, int64_t row1, int64_t in,
                                 int64_t r, DropoutMask mask, float* part) {
  down_rows(x, a, out, row0, row1, in, r, mask, part);
}
ARENA_CPU_CLONES void down_clone(const uint16_t* x, const float* a, uint16_t* out, int64_t row0, int64_t row1,
                                 int64_t in, int64_t r, DropoutMask mask, float* part) {
  down_rows(x, a, out, row0, row1, in, r, mask, part);
}
ARENA_CPU_CLONES void input_grad_clone(const float* g, const float* a, const float* add, float* dx, int64_t row0,
                                       int64_t row1, int64_t in, int64_t r, DropoutMask mask, float* gr) {
  add != nullptr ? input_grad_rows<true>(g, a, add, dx, row0, row1, in, r, mask, gr)
                 : input_grad_rows<false>(g, a, add, dx, row0, row1, in, r, mask, gr);
}
ARENA_CPU_CLONES void input_grad_clone(const uint16_t* g, const float* a, const uint16_t* add, uint16_t* dx,
                                       int64_t row0, int64_t row1, int64_t in, int64_t r, DropoutMask mask, float* gr) {
  add != nullptr ? input_grad_rows<true>(g, a, add, dx, row0, row1, in, r, mask, gr)
                 : input_grad_rows<false>(g, a, add, dx, row0, row1, in, r, mask, gr);
}
ARENA_CPU_CLONES void weight_grad_clone(const float* g, const float* x, float* acc, int64_t row0, int64_t row1,
                                        int64_t in, int64_t r, DropoutMask mask) {
  weight_grad_rows(g, x, acc, row0, row1, in, r, mask);
}
ARENA_CPU_CLONES void weight_grad_clone(const uint16_t* g, const uint16_t* x, float* acc, int64_t row0, int64_t row1,
                                        int64_t in, int64_t r, DropoutMask mask) {
  weight_grad_rows(g, x, acc, row0, row1, in, r, mask);
}

}  // namespace

template <typename T>
void lora_dropout_down(const T* x, const float* a, T* out, int64_t row0, int64_t row1, int64_t in, int64_t r,
                       DropoutMask mask) {
  std::vector<float> part(static_cast<size_t>(r * kLanes));
  down_clone(raw(x), a, raw(out), row0, row1, in, r, mask, part.data());
}

template <typename T>
void lora_dropout_input_grad(const T* g, const float* a, const T* add, T* dx, int64_t row0, int64_t row1,
                             int64_t in, int64_t r, DropoutMask mask) {
  std::vector<float> gr(static_cast<size_t>(r));
  input_grad_clone(raw(g), a, add != nullptr ? raw(add) : nullptr, raw(dx), row0, row1, in, r, mask, gr.data());
}

template <typename T>
void lora_dropout_weight_grad(const T* g, const T* x, float* acc, int64_t row0, int64_t row1, int64_t in, int64_t r,
                              DropoutMask mask) {
  weight_grad_clone(raw(g), raw(x), acc, row0, row1, in, r, mask);
}

#define ARENA_LORA_CPU_KERNELS_FOR(T)                                                                              \
  template void lora_dropout_down<T>(const T*, const float*, T*, int64_t, int64_t, int64_t, int64_t, DropoutMask); \
  template void lora_dropout_input_grad<T>(const T*, const float*, const T*, T*, int64_t, int64_t, int64_t, int64_t, \
                                           DropoutMask);                                                           \
  template void lora_dropout_weight_grad<T>(const T*, const T*, float*, int64_t, int64_t, int64_t, int64_t,        \
                                            DropoutMask);
ARENA_LORA_CPU_KERNELS_FOR(float)
ARENA_LORA_CPU_KERNELS_FOR(c10::BFloat16)
#undef ARENA_LORA_CPU_KERNELS_FOR

}  // namespace arena::cpu
