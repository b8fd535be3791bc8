#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cstdint>
#include <type_traits>

#include "model/cuda/fused_kernels.h"
#include "model/cuda/cuda_convert.cuh"
#include "model/cuda/dropout_hash.h"
#include "model/cuda/geglu_math.cuh"

namespace arena::cuda {
namespace {

constexpr int kThreads = 256;

__device__ inline float block_sum(float v) {
  __shared__ float part[kThreads / 32];
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v += __shfl_xor_sync(0xffffffffu, v, o);
  if ((threadIdx.x & 31) == 0) part[threadIdx.x >> 5] = v;
  __syncthreads();
  float r = 0.0f;
#pragma unroll
  for (int w = 0; w < kThreads / 32; ++w) r += part[w];
  __syncthreads();
  return r;
}

// One block per row; the row (a few KB) is read twice, the second time from cache.
template <typename T>
__global__ void __launch_bounds__(kThreads) rms_forward_kernel(const T* __restrict__ x, const T* __restrict__ w,
                                                               T* __restrict__ y, float* __restrict__ rstd, int64_t n,
                                                               float eps) {
  const T* xr = x + static_cast<int64_t>(blockIdx.x) * n;
  T* yr = y + static_cast<int64_t>(blockIdx.x) * n;
  float ss = 0.0f;
  for (int64_t j = threadIdx.x; j < n; j += kThreads) {
    const float v = to_f(xr[j]);
    ss += v * v;
  }
  ss = block_sum(ss);
  const float r = rsqrtf(ss / static_cast<float>(n) + eps);
  for (int64_t j = threadIdx.x; j < n; j += kThreads) yr[j] = from_f<T>((to_f(xr[j]) * r) * (1.0f + to_f(w[j])));
  if (threadIdx.x == 0) rstd[blockIdx.x] = r;
}

template <typename T>
__global__ void __launch_bounds__(kThreads) rms_backward_kernel(const T* __restrict__ x, const T* __restrict__ w,
                                                                const float* __restrict__ rstd,
                                                                const T* __restrict__ dy, T* __restrict__ dx,
                                                                int64_t n) {
  const int64_t off = static_cast<int64_t>(blockIdx.x) * n;
  const float r = rstd[blockIdx.x];
  float dot = 0.0f;
  for (int64_t j = threadIdx.x; j < n; j += kThreads)
    dot += to_f(dy[off + j]) * (1.0f + to_f(w[j])) * (to_f(x[off + j]) * r);
  const float c = block_sum(dot) / static_cast<float>(n);
  for (int64_t j = threadIdx.x; j < n; j += kThreads) {
    const float xh = to_f(x[off + j]) * r;
    dx[off + j] = from_f<T>(r * (to_f(dy[off + j]) * (1.0f + to_f(w[j])) - xh * c));
  }
}

constexpr float kBeta = kGeluBeta;
constexpr float kKappa = kGeluKappa;

template <typename T>
__global__ void geglu_forward_kernel(const T* __restrict__ gate, const T* __restrict__ up, T* __restrict__ out,
                                     int64_t n) {
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    out[i] = from_f<T>(geglu_f(to_f(gate[i]), to_f(up[i])));
  }
}

template <typename T>
__global__ void geglu_backward_kernel(const T* __restrict__ gate, const T* __restrict__ up,
                                      const T* __restrict__ d_out, T* __restrict__ d_gate, T* __restrict__ d_up,
                                      int64_t n) {
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const float g = to_f(gate[i]);
    const float u = to_f(up[i]);
    const float d = to_f(d_out[i]);
    const float t = tanhf(kBeta * (g + kKappa * g * g * g));
    const float gelu = 0.5f * g * (1.0f + t);
    const float dgelu = 0.5f * (1.0f + t) + 0.5f * g * (1.0f - t * t) * kBeta * (1.0f + 3.0f * kKappa * g * g);
    d_gate[i] = from_f<T>(d * u * dgelu);
    d_up[i] = from_f<T>(d * gelu);
  }
}

template <typename F>
void by_type(OutType type, F&& f) {
  switch (type) {
    case OutType::kF32: f(static_cast<float*>(nullptr)); break;
    case OutType::kBF16: f(static_cast<__nv_bfloat16*>(nullptr)); break;
    case OutType::kF16: f(static_cast<__half*>(nullptr)); break;
  }
}

int elementwise_grid(int64_t n) { return grid_stride_blocks(n, kThreads); }

// One thread per element pair (one hash, model/cuda/dropout_hash.h), for elements first .. n-1 (first
// even): the whole tensor when it is not 16-byte aligned, else the tail the vector kernel leaves.
template <typename T>
__global__ void seeded_dropout_kernel(const T* __restrict__ x, T* __restrict__ y, int64_t first, int64_t n,
                                      uint64_t seed, uint32_t threshold, float scale) {
  const int64_t pairs = (n - first + 1) / 2;
  for (int64_t p = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; p < pairs;
       p += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t i = first + 2 * p;
    const KeepPair keep = dropout_keep_pair(seed, static_cast<uint64_t>(i), threshold);
    y[i] = from_f<T>(keep.first ? to_f(x[i]) * scale : 0.0f);
    if (i + 1 < n) y[i + 1] = from_f<T>(keep.second ? to_f(x[i + 1]) * scale : 0.0f);
  }
}

// The same values, one thread per 16 bytes (kVec16<T> elements: an even count, so whole pairs)
// with one load and one store: x and y 16-byte aligned, elements 0 .. vecs·kVec16 − 1.
template <typename T>
__global__ void seeded_dropout_vec_kernel(const T* __restrict__ x, T* __restrict__ y, int64_t vecs, uint64_t seed,
                                          uint32_t threshold, float scale) {
  constexpr int kVec = kVec16<T>;
  for (int64_t v = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; v < vecs;
       v += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const int64_t i0 = v * kVec;
    float in[kVec], out[kVec];
    load16(x + i0, in);
#pragma unroll
    for (int e = 0; e < kVec; e += 2) {
      const KeepPair keep = dropout_keep_pair(seed, static_cast<uint64_t>(i0 + e), threshold);
      out[e] = keep.first ? in[e] * scale : 0.0f;
      out[e + 1] = keep.second ? in[e + 1] * scale : 0.0f;
    }
    store16(y + i0, out);
  }
}

// a·b rounded as an eager op of storage type T stores it: one fp32 rounding (__fmul_rn: never
// contracted into an FMA with the following add), then the rounding to T.
template <typename T>
__device__ inline float product(float a, float b) {
  return to_f(from_f<T>(__fmul_rn(a, b)));
}

// One thread per (b, s, h, j < D/2) pair. Token-major index t = (b·S + s)·H + h for x/dx,
// head-major ((b·H + h)·S + s) for y/dy; j is the fastest index on both sides (coalesced).
struct RotaryIndex {
  int64_t token_major, head_major, table;  // element offsets of the pair's first half
};

__device__ inline RotaryIndex rotary_index(int64_t i, int64_t seq, int64_t heads, int64_t half, int64_t cos_batch) {
  const int64_t j = i % half;
  int64_t r = i / half;
  const int64_t h = r % heads;
  r /= heads;
  const int64_t s = r % seq;
  const int64_t b = r / seq;
  const int64_t d = 2 * half;
  return {((b * seq + s) * heads + h) * d + j, ((b * heads + h) * seq + s) * d + j,
          ((cos_batch == 1 ? 0 : b) * seq + s) * d + j};
}

template <typename T>
__global__ void rotary_forward_kernel(const T* __restrict__ x, const T* __restrict__ cos, const T* __restrict__ sin,
                                      T* __restrict__ y, int64_t pairs, int64_t seq, int64_t heads, int64_t half,
                                      int64_t cos_batch) {
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < pairs;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const auto at = rotary_index(i, seq, heads, half, cos_batch);
    const float x1 = to_f(x[at.token_major]), x2 = to_f(x[at.token_major + half]);
    const float c1 = to_f(cos[at.table]), c2 = to_f(cos[at.table + half]);
    const float s1 = to_f(sin[at.table]), s2 = to_f(sin[at.table + half]);
    y[at.head_major] = from_f<T>(__fadd_rn(product<T>(x1, c1), product<T>(-x2, s1)));
    y[at.head_major + half] = from_f<T>(__fadd_rn(product<T>(x2, c2), product<T>(x1, s2)));
  }
}

template <typename T>
__global__ void rotary_backward_kernel(const T* __restrict__ dy, const T* __restrict__ cos,
                                       const T* __restrict__ sin, T* __restrict__ dx, int64_t pairs, int64_t seq,
                                       int64_t heads, int64_t half, int64_t cos_batch) {
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < pairs;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    const auto at = rotary_index(i, seq, heads, half, cos_batch);
    const float g1 = to_f(dy[at.head_major]), g2 = to_f(dy[at.head_major + half]);
    const float c1 = to_f(cos[at.table]), c2 = to_f(cos[at.table + half]);
    const float s1 = to_f(sin[at.table]), s2 = to_f(sin[at.table + half]);
    dx[at.token_major] = from_f<T>(__fadd_rn(product<T>(g1, c1), product<T>(g2, s2)));
    dx[at.token_major + half] = from_f<T>(__fsub_rn(product<T>(g2, c2), product<T>(g1, s1)));
  }
}

}  // namespace

void rms_norm_forward(const void* x, const void* w, void* y, float* rstd, OutType type, int64_t rows, int64_t n,
                      float eps, void* stream) {
  if (rows == 0) return;
  by_type(type, [&](auto* tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    rms_forward_kernel<T><<<static_cast<unsigned>(rows), kThreads, 0, static_cast<cudaStream_t>(stream)>>>(
        static_cast<const T*>(x), static_cast<const T*>(w), static_cast<T*>(y), rstd, n, eps);
  });
}

void rms_norm_backward(const void* x, const void* w, const float* rstd, const void* dy, void* dx, OutType type,
                       int64_t rows, int64_t n, void* stream) {
  if (rows == 0) return;
  by_type(type, [&](auto* tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    rms_backward_kernel<T><<<static_cast<unsigned>(rows), kThreads, 0, static_cast<cudaStream_t>(stream)>>>(
        static_cast<const T*>(x), static_cast<const T*>(w), rstd, static_cast<const T*>(dy), static_cast<T*>(dx), n);
  });
}

void geglu_forward(const void* gate, const void* up, void* out, OutType type, int64_t n, void* stream) {
  if (n == 0) return;
  by_type(type, [&](auto* tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    geglu_forward_kernel<T><<<elementwise_grid(n), kThreads, 0, static_cast<cudaStream_t>(stream)>>>(
        static_cast<const T*>(gate), static_cast<const T*>(up), static_cast<T*>(out), n);
  });
}

void geglu_backward(const void* gate, const void* up, const void* d_out, void* d_gate, void* d_up, OutType type,
                    int64_t n, void* stream) {
  if (n == 0) return;
  by_type(type, [&](auto* tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    geglu_backward_kernel<T><<<elementwise_grid(n), kThreads, 0, static_cast<cudaStream_t>(stream)>>>(
        static_cast<const T*>(gate), static_cast<const T*>(up), static_cast<const T*>(d_out), static_cast<T*>(d_gate),
        static_cast<T*>(d_up), n);
  });
}

void seeded_dropout(const void* x, void* y, OutType type, int64_t n, uint64_t seed, uint32_t threshold, float scale,
                    void* stream) {
  if (n == 0) return;
  const auto aligned = [](const void* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; };
  by_type(type, [&](auto* tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    const auto s = static_cast<cudaStream_t>(stream);
    const int64_t vecs = aligned(x) && aligned(y) ? n / kVec16<T> : 0;
    if (vecs > 0) {
      seeded_dropout_vec_kernel<T><<<elementwise_grid(vecs), kThreads, 0, s>>>(
          static_cast<const T*>(x), static_cast<T*>(y), vecs, seed, threshold, scale);
    }
    const int64_t first = vecs * kVec16<T>;
    if (first < n) {
      seeded_dropout_kernel<T><<<elementwise_grid((n - first + 1) / 2), kThreads, 0, s>>>(
          static_cast<const T*>(x), static_cast<T*>(y), first, n, seed, threshold, scale);
    }
  });
}

void rotary_heads_forward(const void* x, const void* cos, const void* sin, void* y, OutType type, int64_t batch,
                          int64_t seq, int64_t heads, int64_t head_dim, int64_t cos_batch, void* stream) {
  const int64_t pairs = batch * seq * heads * (head_dim / 2);
  if (pairs == 0) return;
  by_type(type, [&](auto* tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    rotary_forward_kernel<T><<<elementwise_grid(pairs), kThreads, 0, static_cast<cudaStream_t>(stream)>>>(
        static_cast<const T*>(x), static_cast<const T*>(cos), static_cast<const T*>(sin), static_cast<T*>(y), pairs,
        seq, heads, head_dim / 2, cos_batch);
  });
}

void rotary_heads_backward(const void* dy, const void* cos, const void* sin, void* dx, OutType type, int64_t batch,
                           int64_t seq, int64_t heads, int64_t head_dim, int64_t cos_batch, void* stream) {
  const int64_t pairs = batch * seq * heads * (head_dim / 2);
  if (pairs == 0) return;
  by_type(type, [&](auto* tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    rotary_backward_kernel<T><<<elementwise_grid(pairs), kThreads, 0, static_cast<cudaStream_t>(stream)>>>(
        static_cast<const T*>(dy), static_cast<const T*>(cos), static_cast<const T*>(sin), static_cast<T*>(dx), pairs,
        seq, heads, head_dim / 2, cos_batch);
  });
}

}  // namespace arena::cuda
