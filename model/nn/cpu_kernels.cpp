#include "model/nn/cpu_kernels.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <type_traits>

#include "model/nn/cpu_loop_support.h"

namespace arena::cpu {
namespace {

using namespace loops;  // NOLINT: ld, st, raw, product, dropout_bits_block

ARENA_INLINE float bits_to_float(uint32_t u) {
  float f;
  std::memcpy(&f, &u, sizeof f);
  return f;
}

// e^y − 1 for y in [-18, 0]: y = k·ln2 + r with |r| ≤ ln2/2, e^r − 1 by its Taylor polynomial to
// r⁷ (error below 1e-8 relative) without the leading 1, so no digits cancel near 0; then
// e^y − 1 = 2^k·(e^r − 1) + (2^k − 1), 2^k built from its exponent bits.
ARENA_INLINE float expm1_nonpositive(float y) {
  constexpr float kLog2e = 1.44269504088896341f;
  constexpr float kLn2Hi = 0.693145751953125f;  // ln 2 split so k·kLn2Hi is exact
  constexpr float kLn2Lo = 1.42860682030941723e-06f;
  const float k = std::floor(y * kLog2e + 0.5f);
  const float r = (y - k * kLn2Hi) - k * kLn2Lo;
  float p = 1.0f / 5040.0f;
  p = p * r + 1.0f / 720.0f;
  p = p * r + 1.0f / 120.0f;
  p = p * r + 1.0f / 24.0f;
  p = p * r + 1.0f / 6.0f;
  p = p * r + 0.5f;
  const float q = r + r * r * p;
  const float two_k = bits_to_float(static_cast<uint32_t>(static_cast<int32_t>(k) + 127) << 23);
  return two_k * q + (two_k - 1.0f);
}

// tanh(x) = −m / (2 + m) with m = e^(−2|x|) − 1, and x's sign. |x| ≥ 9 gives ±1 (as tanhf does
// in fp32). NaN stays NaN.
ARENA_INLINE float tanh_f(float x) {
  const float a = std::min(std::fabs(x), 9.0f);
  const float m = expm1_nonpositive(-2.0f * a);
  return std::copysign(-m / (2.0f + m), x) + (x - x);  // x − x: NaN for NaN, else 0
}

constexpr float kBeta = 0.7978845608028654f;  // sqrt(2/pi), as in model/cuda/geglu_math.cuh
constexpr float kKappa = 0.044715f;

ARENA_INLINE float gelu_tanh_of(float g) { return tanh_f(kBeta * (g + kKappa * g * g * g)); }

template <typename S>
ARENA_INLINE void rms_forward_rows(const S* x, const S* w, S* y, float* rstd, int64_t rows, int64_t n, float eps) {
  constexpr int kLanes = 16;  // independent partial sums: a fixed order the vectorizer keeps
  for (int64_t row = 0; row < rows; ++row) {
    const S* xr = x + row * n;
    S* yr = y + row * n;
    float part[kLanes] = {};
    int64_t j = 0;
    for (; j + kLanes <= n; j += kLanes)
      for (int l = 0; l < kLanes; ++l) {
        const float v = ld(xr, j + l);
        part[l] += v * v;
      }
    float ss = 0.0f;
    for (int l = 0; l < kLanes; ++l) ss += part[l];
    for (; j < n; ++j) ss += ld(xr, j) * ld(xr, j);
    const float r = 1.0f / std::sqrt(ss / static_cast<float>(n) + eps);
    for (int64_t k = 0; k < n; ++k) st(yr, k, (ld(xr, k) * r) * (1.0f + ld(w, k)));
    rstd[row] = r;
  }
}

template <typename S>
ARENA_INLINE void rms_backward_rows(const S* x, const S* w, const float* rstd, const S* dy, S* dx, int64_t rows,
                                   int64_t n) {
  constexpr int kLanes = 16;
  for (int64_t row = 0; row < rows; ++row) {
    const S* xr = x + row * n;
    const S* dyr = dy + row * n;
    S* dxr = dx + row * n;
    const float r = rstd[row];
    float part[kLanes] = {};
    int64_t j = 0;
    for (; j + kLanes <= n; j += kLanes)
      for (int l = 0; l < kLanes; ++l)
        part[l] += ld(dyr, j + l) * (1.0f + ld(w, j + l)) * (ld(xr, j + l) * r);
    float dot = 0.0f;
    for (int l = 0; l < kLanes; ++l) dot += part[l];
    for (; j < n; ++j) dot += ld(dyr, j) * (1.0f + ld(w, j)) * (ld(xr, j) * r);
    const float c = dot / static_cast<float>(n);
    for (int64_t k = 0; k < n; ++k) st(dxr, k, r * (ld(dyr, k) * (1.0f + ld(w, k)) - (ld(xr, k) * r) * c));
  }
}

template <typename S>
ARENA_INLINE void geglu_forward_loop(const S* gate, const S* up, S* out, int64_t n) {
  for (int64_t i = 0; i < n; ++i) {
    const float g = ld(gate, i);
    st(out, i, 0.5f * g * (1.0f + gelu_tanh_of(g)) * ld(up, i));
  }
}

// A block at a time: tanh into a buffer, then the rest, two simple loops the vectorizer takes
// (as one loop with three outputs it did not, for every type and case).
template <bool kValue, typename S>
ARENA_INLINE void geglu_backward_loop(const S* __restrict__ gate, const S* __restrict__ up,
                                     const S* __restrict__ d_out, S* __restrict__ d_gate, S* __restrict__ d_up,
                                     S* __restrict__ value, int64_t n) {
  constexpr int64_t kBlock = 256;
  float t[kBlock];
  for (int64_t i0 = 0; i0 < n; i0 += kBlock) {
    const int64_t m = std::min(kBlock, n - i0);
    for (int64_t k = 0; k < m; ++k) t[k] = gelu_tanh_of(ld(gate, i0 + k));
    for (int64_t k = 0; k < m; ++k) {
      const int64_t i = i0 + k;
      const float g = ld(gate, i);
      const float u = ld(up, i);
      const float d = ld(d_out, i);
      const float gelu = 0.5f * g * (1.0f + t[k]);
      const float dgelu =
          0.5f * (1.0f + t[k]) + 0.5f * g * (1.0f - t[k] * t[k]) * kBeta * (1.0f + 3.0f * kKappa * g * g);
      st(d_gate, i, d * u * dgelu);
      st(d_up, i, d * gelu);
      if constexpr (kValue) st(value, i, gelu * u);
    }
  }
}

// One loop per case, so neither has a branch inside.
template <typename S>
ARENA_INLINE void geglu_backward_loops(const S* gate, const S* up, const S* d_out, S* d_gate, S* d_up, S* value,
                                      int64_t n) {
  if (value != nullptr) {
    geglu_backward_loop<true>(gate, up, d_out, d_gate, d_up, value, n);
  } else {
    geglu_backward_loop<false>(gate, up, d_out, d_gate, d_up, value, n);
  }
}

template <typename S>
ARENA_INLINE void dropout_loop(const S* x, S* y, uint64_t first, int64_t n, uint64_t seed, uint32_t threshold,
                               float scale) {
  constexpr int64_t kBlock = 2 * kDropoutBitsPairs;
  uint32_t bits[kBlock];
  for (int64_t i0 = 0; i0 < n; i0 += kBlock) {
    const int64_t m = std::min(kBlock, n - i0);
    dropout_bits_block(seed, first + static_cast<uint64_t>(i0), m, bits);
    for (int64_t k = 0; k < m; ++k) st(y, i0 + k, bits[k] >= threshold ? ld(x, i0 + k) * scale : 0.0f);
  }
}

struct RotaryShape {
  int64_t batch, seq, heads, d, cos_batch;
};

// Tokens t in [t0, t1): per head, y1 = x1·c1 − x2·s1 and y2 = x2·c2 + x1·s2 (forward), or
// dx1 = g1·c1 + g2·s2 and dx2 = g2·c2 − g1·s1 (backward), each product rounded, then the sum.
template <bool kForward, typename S>
ARENA_INLINE void rotary_loop(const S* __restrict__ in, const S* __restrict__ cos, const S* __restrict__ sin,
                              S* __restrict__ out, RotaryShape n, int64_t t0, int64_t t1) {
  const int64_t half = n.d / 2;
  for (int64_t t = t0; t < t1; ++t) {
    const int64_t b = t / n.seq, s = t % n.seq;
    const S* c = cos + ((n.cos_batch == 1 ? 0 : b) * n.seq + s) * n.d;
    const S* sn = sin + ((n.cos_batch == 1 ? 0 : b) * n.seq + s) * n.d;
    for (int64_t h = 0; h < n.heads; ++h) {
      const int64_t token_major = (t * n.heads + h) * n.d, head_major = ((b * n.heads + h) * n.seq + s) * n.d;
      const S* src = in + (kForward ? token_major : head_major);
      S* dst = out + (kForward ? head_major : token_major);
      for (int64_t j = 0; j < half; ++j) {
        const float a1 = ld(src, j), a2 = ld(src, j + half);
        const float c1 = ld(c, j), c2 = ld(c, j + half), s1 = ld(sn, j), s2 = ld(sn, j + half);
        if constexpr (kForward) {
          st(dst, j, product(a1, c1, src) + product(-a2, s1, src));
          st(dst, j + half, product(a2, c2, src) + product(a1, s2, src));
        } else {
          st(dst, j, product(a1, c1, src) + product(a2, s2, src));
          st(dst, j + half, product(a2, c2, src) - product(a1, s1, src));
        }
      }
    }
  }
}

// One clone per storage type (overloads): target_clones does not apply to templates.
ARENA_CPU_CLONES void rms_forward_clone(const float* x, const float* w, float* y, float* rstd, int64_t rows, int64_t n,
                                      float eps) {
  rms_forward_rows(x, w, y, rstd, rows, n, eps);
}
ARENA_CPU_CLONES void rms_forward_clone(const uint16_t* x, const uint16_t* w, uint16_t* y, float* rstd, int64_t rows,
                                       int64_t n, float eps) {
  rms_forward_rows(x, w, y, rstd, rows, n, eps);
}
ARENA_CPU_CLONES void rms_backward_clone(const float* x, const float* w, const float* rstd, const float* dy, float* dx,
                                       int64_t rows, int64_t n) {
  rms_backward_rows(x, w, rstd, dy, dx, rows, n);
}
ARENA_CPU_CLONES void rms_backward_clone(const uint16_t* x, const uint16_t* w, const float* rstd, const uint16_t* dy,
                                        uint16_t* dx, int64_t rows, int64_t n) {
  rms_backward_rows(x, w, rstd, dy, dx, rows, n);
}
ARENA_CPU_CLONES void geglu_forward_clone(const float* gate, const float* up, float* out, int64_t n) {
  geglu_forward_loop(gate, up, out, n);
}
ARENA_CPU_CLONES void geglu_forward_clone(const uint16_t* gate, const uint16_t* up, uint16_t* out, int64_t n) {
  geglu_forward_loop(gate, up, out, n);
}
ARENA_CPU_CLONES void geglu_backward_clone(const float* gate, const float* up, const float* d_out, float* d_gate,
                                         float* d_up, float* value, int64_t n) {
  geglu_backward_loops(gate, up, d_out, d_gate, d_up, value, n);
}
ARENA_CPU_CLONES void geglu_backward_clone(const uint16_t* gate, const uint16_t* up, const uint16_t* d_out,
                                          uint16_t* d_gate, uint16_t* d_up, uint16_t* value, int64_t n) {
  geglu_backward_loops(gate, up, d_out, d_gate, d_up, value, n);
}
ARENA_CPU_CLONES void rotary_clone(bool forward, const float* in, const float* cos, const float* sin, float* out,
                                  RotaryShape n, int64_t t0, int64_t t1) {
  forward ? rotary_loop<true>(in, cos, sin, out, n, t0, t1) : rotary_loop<false>(in, cos, sin, out, n, t0, t1);
}
ARENA_CPU_CLONES void rotary_clone(bool forward, const uint16_t* in, const uint16_t* cos, const uint16_t* sin,
                                   uint16_t* out, RotaryShape n, int64_t t0, int64_t t1) {
  forward ? rotary_loop<true>(in, cos, sin, out, n, t0, t1) : rotary_loop<false>(in, cos, sin, out, n, t0, t1);
}
ARENA_CPU_CLONES void dropout_clone(const float* x, float* y, uint64_t first, int64_t n, uint64_t seed,
                                  uint32_t threshold, float scale) {
  dropout_loop(x, y, first, n, seed, threshold, scale);
}
ARENA_CPU_CLONES void dropout_clone(const uint16_t* x, uint16_t* y, uint64_t first, int64_t n, uint64_t seed,
                                   uint32_t threshold, float scale) {
  dropout_loop(x, y, first, n, seed, threshold, scale);
}

}  // namespace

template <typename T>
void rms_norm_forward(const T* x, const T* w, T* y, float* rstd, int64_t rows, int64_t n, float eps) {
  rms_forward_clone(raw(x), raw(w), raw(y), rstd, rows, n, eps);
}

template <typename T>
void rms_norm_backward(const T* x, const T* w, const float* rstd, const T* dy, T* dx, int64_t rows, int64_t n) {
  rms_backward_clone(raw(x), raw(w), rstd, raw(dy), raw(dx), rows, n);
}

template <typename T>
void geglu_forward(const T* gate, const T* up, T* out, int64_t n) {
  geglu_forward_clone(raw(gate), raw(up), raw(out), n);
}

template <typename T>
void geglu_backward(const T* gate, const T* up, const T* d_out, T* d_gate, T* d_up, T* value, int64_t n) {
  geglu_backward_clone(raw(gate), raw(up), raw(d_out), raw(d_gate), raw(d_up), raw(value), n);
}

template <typename T>
void rotary_heads_forward(const T* x, const T* cos, const T* sin, T* y, int64_t batch, int64_t seq, int64_t heads,
                          int64_t head_dim, int64_t cos_batch, int64_t token_begin, int64_t token_end) {
  rotary_clone(true, raw(x), raw(cos), raw(sin), raw(y), {batch, seq, heads, head_dim, cos_batch}, token_begin,
               token_end);
}

template <typename T>
void rotary_heads_backward(const T* dy, const T* cos, const T* sin, T* dx, int64_t batch, int64_t seq,
                           int64_t heads, int64_t head_dim, int64_t cos_batch, int64_t token_begin,
                           int64_t token_end) {
  rotary_clone(false, raw(dy), raw(cos), raw(sin), raw(dx), {batch, seq, heads, head_dim, cos_batch}, token_begin,
               token_end);
}

template <typename T>
void seeded_dropout(const T* x, T* y, uint64_t first, int64_t n, uint64_t seed, uint32_t threshold, float scale) {
  dropout_clone(raw(x), raw(y), first, n, seed, threshold, scale);
}

float tanh_approx(float x) { return tanh_f(x); }

#define ARENA_CPU_KERNELS_FOR(T)                                                                                    \
  template void rms_norm_forward<T>(const T*, const T*, T*, float*, int64_t, int64_t, float);                      \
  template void rms_norm_backward<T>(const T*, const T*, const float*, const T*, T*, int64_t, int64_t);            \
  template void geglu_forward<T>(const T*, const T*, T*, int64_t);                                                 \
  template void geglu_backward<T>(const T*, const T*, const T*, T*, T*, T*, int64_t);                              \
  template void seeded_dropout<T>(const T*, T*, uint64_t, int64_t, uint64_t, uint32_t, float);                     \
  template void rotary_heads_forward<T>(const T*, const T*, const T*, T*, int64_t, int64_t, int64_t, int64_t,      \
                                        int64_t, int64_t, int64_t);                                                \
  template void rotary_heads_backward<T>(const T*, const T*, const T*, T*, int64_t, int64_t, int64_t, int64_t,     \
                                         int64_t, int64_t, int64_t);
ARENA_CPU_KERNELS_FOR(float)
ARENA_CPU_KERNELS_FOR(c10::BFloat16)
#undef ARENA_CPU_KERNELS_FOR

}  // namespace arena::cpu
