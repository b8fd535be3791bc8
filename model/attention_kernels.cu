#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cmath>

#include "model/attention_kernels.h"
#include "model/cuda_convert.cuh"

namespace arena::cuda {
namespace {

constexpr int kThreads = 256;  // one block per row; thread t owns keys t, t+256, t+512, ...

// Block-wide max or sum over kThreads threads, same order every time (deterministic). Every
// thread gets the result.
template <bool kMax>
__device__ inline float block_reduce(float v) {
  __shared__ float part[kThreads / 32];
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) {
    const float w = __shfl_xor_sync(0xffffffffu, v, o);
    v = kMax ? fmaxf(v, w) : v + w;
  }
  if ((threadIdx.x & 31) == 0) part[threadIdx.x >> 5] = v;
  __syncthreads();
  float r = part[0];
#pragma unroll
  for (int w = 1; w < kThreads / 32; ++w) r = kMax ? fmaxf(r, part[w]) : r + part[w];
  __syncthreads();  // `part` is reused by the next reduction
  return r;
}

// z = cap·tanh(s·scale/cap) + bias (or s·scale + bias without a cap); *t_or_one receives the
// factor d z / d(s·scale) = 1 − t² (1 without a cap).
__device__ inline float capped(float s, float b, float scale, float cap, float inv_cap, float* dz) {
  const float x = s * scale;
  if (cap > 0.0f) {
    const float t = tanhf(x * inv_cap);
    *dz = 1.0f - t * t;
    return cap * t + b;
  }
  *dz = 1.0f;
  return x + b;
}

template <typename T, int kPer>
__global__ void __launch_bounds__(kThreads) softmax_forward_kernel(const T* __restrict__ scores,
                                                                   const T* __restrict__ bias, int64_t bias_bstride,
                                                                   T* __restrict__ probs, float* __restrict__ lse,
                                                                   SoftmaxRows rows, float scale, float cap) {
  const int64_t row = blockIdx.x;  // in the chunk buffer
  const int64_t sk = rows.keys;
  const int64_t g = row / rows.chunk_rows;
  const int64_t r = rows.row0 + row % rows.chunk_rows;  // row within the batch
  const int64_t b = g / rows.kv_heads;
  const int64_t i = r / rows.heads_per_kv;  // query position
  const T* s = scores + row * rows.ld;
  const T* bb = bias + b * bias_bstride + i * rows.bias_ld;
  const float inv_cap = cap > 0.0f ? 1.0f / cap : 0.0f;
  float z[kPer];
  float m = -INFINITY;
#pragma unroll
  for (int k = 0; k < kPer; ++k) {
    const int64_t j = static_cast<int64_t>(k) * kThreads + threadIdx.x;
    float unused;
    z[k] = j < sk ? capped(to_f(s[j]), to_f(bb[j]), scale, cap, inv_cap, &unused) : -INFINITY;
    m = fmaxf(m, z[k]);
  }
  m = block_reduce<true>(m);
  float sum = 0.0f;
#pragma unroll
  for (int k = 0; k < kPer; ++k) {
    z[k] = expf(z[k] - m);  // exp(-inf) = 0 for the padding slots
    sum += z[k];
  }
  sum = block_reduce<false>(sum);
  const float inv = 1.0f / sum;
  T* p = probs + row * rows.ld;
#pragma unroll
  for (int k = 0; k < kPer; ++k) {
    const int64_t j = static_cast<int64_t>(k) * kThreads + threadIdx.x;
    if (j < rows.ld) p[j] = from_f<T>(z[k] * inv);  // padding columns sk..ld-1 get exact zeros
  }
  if (threadIdx.x == 0) lse[g * rows.group_rows + r] = m + logf(sum);
}

// dprobs and dscores may alias: every element is read and written by the same thread.
template <typename T, int kPer>
__global__ void __launch_bounds__(kThreads) softmax_backward_kernel(const T* __restrict__ scores,
                                                                    const T* __restrict__ bias, int64_t bias_bstride,
                                                                    const float* __restrict__ lse, const T* dprobs,
                                                                    T* __restrict__ probs, T* dscores,
                                                                    SoftmaxRows rows, float scale, float cap) {
  const int64_t row = blockIdx.x;  // in the chunk buffer
  const int64_t sk = rows.keys;
  const int64_t grp = row / rows.chunk_rows;
  const int64_t r = rows.row0 + row % rows.chunk_rows;
  const int64_t b = grp / rows.kv_heads;
  const int64_t i = r / rows.heads_per_kv;
  const T* s = scores + row * rows.ld;
  const T* bb = bias + b * bias_bstride + i * rows.bias_ld;
  const T* dp = dprobs + row * rows.ld;
  const float inv_cap = cap > 0.0f ? 1.0f / cap : 0.0f;
  const float l = lse[grp * rows.group_rows + r];
  float p[kPer], g[kPer], d[kPer];
  float dot = 0.0f;
#pragma unroll
  for (int k = 0; k < kPer; ++k) {
    const int64_t j = static_cast<int64_t>(k) * kThreads + threadIdx.x;
    if (j < sk) {
      const float zz = capped(to_f(s[j]), to_f(bb[j]), scale, cap, inv_cap, &d[k]);
      p[k] = expf(zz - l);
      g[k] = to_f(dp[j]);
    } else {
      p[k] = 0.0f;
      g[k] = 0.0f;
      d[k] = 0.0f;
    }
    dot += p[k] * g[k];
  }
  dot = block_reduce<false>(dot);
  T* po = probs + row * rows.ld;
  T* ds = dscores + row * rows.ld;
#pragma unroll
  for (int k = 0; k < kPer; ++k) {
    const int64_t j = static_cast<int64_t>(k) * kThreads + threadIdx.x;
    if (j < rows.ld) {  // p = g = d = 0 on the padding columns: zeros
      po[j] = from_f<T>(p[k]);
      ds[j] = from_f<T>(p[k] * (g[k] - dot) * d[k] * scale);
    }
  }
}

template <typename T, int kPer>
void launch_forward(const void* scores, const void* bias, int64_t bstride, void* probs, float* lse,
                    const SoftmaxRows& rows, float scale, float cap, cudaStream_t s) {
  softmax_forward_kernel<T, kPer><<<static_cast<unsigned>(rows.batches * rows.chunk_rows), kThreads, 0, s>>>(
      static_cast<const T*>(scores), static_cast<const T*>(bias), bstride, static_cast<T*>(probs), lse, rows, scale,
      cap);
}

template <typename T, int kPer>
void launch_backward(const void* scores, const void* bias, int64_t bstride, const float* lse, const void* dprobs,
                     void* probs, void* dscores, const SoftmaxRows& rows, float scale, float cap, cudaStream_t s) {
  softmax_backward_kernel<T, kPer><<<static_cast<unsigned>(rows.batches * rows.chunk_rows), kThreads, 0, s>>>(
      static_cast<const T*>(scores), static_cast<const T*>(bias), bstride, lse, static_cast<const T*>(dprobs),
      static_cast<T*>(probs), static_cast<T*>(dscores), rows, scale, cap);
}

// Picks the per-thread width (a compile-time constant, so the row stays in registers).
template <typename T, typename F>
void by_width(int64_t sk, F&& f) {
  if (sk <= 1 * kThreads) f.template operator()<T, 1>();
  else if (sk <= 2 * kThreads) f.template operator()<T, 2>();
  else if (sk <= 4 * kThreads) f.template operator()<T, 4>();
  else if (sk <= 8 * kThreads) f.template operator()<T, 8>();
  else if (sk <= 16 * kThreads) f.template operator()<T, 16>();
  else f.template operator()<T, 32>();
}

template <typename F>
void by_type(OutType type, int64_t sk, F&& f) {
  switch (type) {
    case OutType::kF32: by_width<float>(sk, f); break;
    case OutType::kBF16: by_width<__nv_bfloat16>(sk, f); break;
    case OutType::kF16: by_width<__half>(sk, f); break;
  }
}

struct Forward {
  const void* scores; const void* bias; int64_t bstride; void* probs; float* lse;
  SoftmaxRows rows; float scale, cap; cudaStream_t s;
  template <typename T, int kPer>
  void operator()() const { launch_forward<T, kPer>(scores, bias, bstride, probs, lse, rows, scale, cap, s); }
};

struct Backward {
  const void* scores; const void* bias; int64_t bstride; const float* lse; const void* dprobs; void* probs;
  void* dscores; SoftmaxRows rows; float scale, cap; cudaStream_t s;
  template <typename T, int kPer>
  void operator()() const {
    launch_backward<T, kPer>(scores, bias, bstride, lse, dprobs, probs, dscores, rows, scale, cap, s);
  }
};

}  // namespace

void softcap_softmax_forward(const void* scores, const void* bias, int64_t bias_batch_stride, void* probs, float* lse,
                             OutType type, const SoftmaxRows& rows, float scale, float cap, void* stream) {
  if (rows.batches * rows.chunk_rows == 0 || rows.keys == 0) return;
  by_type(type, rows.keys,
          Forward{scores, bias, bias_batch_stride, probs, lse, rows, scale, cap, static_cast<cudaStream_t>(stream)});
}

void softcap_softmax_backward(const void* scores, const void* bias, int64_t bias_batch_stride, const float* lse,
                              const void* dprobs, void* probs, void* dscores, OutType type, const SoftmaxRows& rows,
                              float scale, float cap, void* stream) {
  if (rows.batches * rows.chunk_rows == 0 || rows.keys == 0) return;
  by_type(type, rows.keys,
          Backward{scores, bias, bias_batch_stride, lse, dprobs, probs, dscores, rows, scale, cap,
                   static_cast<cudaStream_t>(stream)});
}

}  // namespace arena::cuda
