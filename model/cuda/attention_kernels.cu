#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cmath>

#include "model/cuda/attention_kernels.h"
#include "model/cuda/cuda_convert.cuh"

namespace arena::cuda {
namespace {

// One block per row. Thread t owns the 16-byte vectors t, t + kThreads, t + 2·kThreads, ... of
// the row (kVec16<T> elements each: 8 in bf16); the buffers' rows are 16-byte aligned (ld and the
// bias row stride are multiples of 8 elements).

// Block-wide max or sum over kThreads threads, same order every time (deterministic). Every
// thread gets the result.
template <bool kMax, int kThreads>
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

// z = cap·tanh(s·scale/cap) + bias (or s·scale + bias without a cap); *dz receives the factor
// d z / d(s·scale) = 1 − t² (1 without a cap).
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

// Where one row of a chunk buffer lives, and its bias row.
struct RowAt {
  int64_t row;    // in the chunk buffer
  int64_t batch;  // b·KV + kv
  int64_t r;      // row within the batch's S·G rows
  int64_t bias;   // offset of the bias row
};

__device__ inline RowAt row_at(const SoftmaxRows& rows, int64_t bias_bstride) {
  RowAt a;
  a.row = blockIdx.x;
  a.batch = a.row / rows.chunk_rows;
  a.r = rows.row0 + a.row % rows.chunk_rows;
  const int64_t b = a.batch / rows.kv_heads;
  const int64_t i = a.r / rows.heads_per_kv;  // query position
  a.bias = b * bias_bstride + i * rows.bias_ld;
  return a;
}

template <typename T, int kThreads, int kPer>
__global__ void __launch_bounds__(kThreads) softmax_forward_kernel(const T* __restrict__ scores,
                                                                   const T* __restrict__ bias, int64_t bias_bstride,
                                                                   T* __restrict__ probs, float* __restrict__ lse,
                                                                   SoftmaxRows rows, float scale, float cap) {
  constexpr int kVec = kVec16<T>;
  const RowAt at = row_at(rows, bias_bstride);
  const T* s = scores + at.row * rows.ld;
  const T* bb = bias + at.bias;
  const float inv_cap = cap > 0.0f ? 1.0f / cap : 0.0f;
  float z[kPer][kVec];
  float m = -INFINITY;
#pragma unroll
  for (int k = 0; k < kPer; ++k) {
    const int64_t j0 = (static_cast<int64_t>(k) * kThreads + threadIdx.x) * kVec;
    float sv[kVec] = {}, bv[kVec] = {};
    if (j0 < rows.ld) {
      load16(s + j0, sv);
      load16(bb + j0, bv);
    }
#pragma unroll
    for (int e = 0; e < kVec; ++e) {
      float unused;
      z[k][e] = j0 + e < rows.keys ? capped(sv[e], bv[e], scale, cap, inv_cap, &unused) : -INFINITY;
      m = fmaxf(m, z[k][e]);
    }
  }
  m = block_reduce<true, kThreads>(m);
  float sum = 0.0f;
#pragma unroll
  for (int k = 0; k < kPer; ++k) {
#pragma unroll
    for (int e = 0; e < kVec; ++e) {
      z[k][e] = expf(z[k][e] - m);  // exp(-inf) = 0 for the padding slots
      sum += z[k][e];
    }
  }
  sum = block_reduce<false, kThreads>(sum);
  const float inv = 1.0f / sum;
  T* p = probs + at.row * rows.ld;
#pragma unroll
  for (int k = 0; k < kPer; ++k) {
    const int64_t j0 = (static_cast<int64_t>(k) * kThreads + threadIdx.x) * kVec;
    if (j0 < rows.ld) {  // padding columns keys..ld-1 get exact zeros
      float out[kVec];
#pragma unroll
      for (int e = 0; e < kVec; ++e) out[e] = z[k][e] * inv;
      store16(p + j0, out);
    }
  }
  if (threadIdx.x == 0) lse[at.batch * rows.group_rows + at.r] = m + logf(sum);
}

// dprobs and dscores may alias: every vector is read and then written by the same thread.
template <typename T, int kThreads, int kPer>
__global__ void __launch_bounds__(kThreads) softmax_backward_kernel(const T* __restrict__ scores,
                                                                    const T* __restrict__ bias, int64_t bias_bstride,
                                                                    const float* __restrict__ lse, const T* dprobs,
                                                                    T* __restrict__ probs, T* dscores,
                                                                    SoftmaxRows rows, float scale, float cap) {
  constexpr int kVec = kVec16<T>;
  const RowAt at = row_at(rows, bias_bstride);
  const T* s = scores + at.row * rows.ld;
  const T* bb = bias + at.bias;
  const T* dp = dprobs + at.row * rows.ld;
  const float inv_cap = cap > 0.0f ? 1.0f / cap : 0.0f;
  const float l = lse[at.batch * rows.group_rows + at.r];
  float p[kPer][kVec], g[kPer][kVec], d[kPer][kVec];
  float dot = 0.0f;
#pragma unroll
  for (int k = 0; k < kPer; ++k) {
    const int64_t j0 = (static_cast<int64_t>(k) * kThreads + threadIdx.x) * kVec;
    float sv[kVec] = {}, bv[kVec] = {}, gv[kVec] = {};
    if (j0 < rows.ld) {
      load16(s + j0, sv);
      load16(bb + j0, bv);
      load16(dp + j0, gv);
    }
#pragma unroll
    for (int e = 0; e < kVec; ++e) {
      if (j0 + e < rows.keys) {
        const float zz = capped(sv[e], bv[e], scale, cap, inv_cap, &d[k][e]);
        p[k][e] = expf(zz - l);
        g[k][e] = gv[e];
      } else {
        p[k][e] = 0.0f;
        g[k][e] = 0.0f;
        d[k][e] = 0.0f;
      }
      dot += p[k][e] * g[k][e];
    }
  }
  dot = block_reduce<false, kThreads>(dot);
  T* po = probs + at.row * rows.ld;
  T* ds = dscores + at.row * rows.ld;
#pragma unroll
  for (int k = 0; k < kPer; ++k) {
    const int64_t j0 = (static_cast<int64_t>(k) * kThreads + threadIdx.x) * kVec;
    if (j0 < rows.ld) {  // p = g = d = 0 on the padding columns: zeros
      float dsv[kVec];
#pragma unroll
      for (int e = 0; e < kVec; ++e) dsv[e] = p[k][e] * (g[k][e] - dot) * d[k][e] * scale;
      store16(po + j0, p[k]);
      store16(ds + j0, dsv);
    }
  }
}

template <typename T, int kThreads, int kPer>
void launch_forward(const void* scores, const void* bias, int64_t bstride, void* probs, float* lse,
                    const SoftmaxRows& rows, float scale, float cap, cudaStream_t s) {
  softmax_forward_kernel<T, kThreads, kPer><<<static_cast<unsigned>(rows.batches * rows.chunk_rows), kThreads, 0, s>>>(
      static_cast<const T*>(scores), static_cast<const T*>(bias), bstride, static_cast<T*>(probs), lse, rows, scale,
      cap);
}

template <typename T, int kThreads, int kPer>
void launch_backward(const void* scores, const void* bias, int64_t bstride, const float* lse, const void* dprobs,
                     void* probs, void* dscores, const SoftmaxRows& rows, float scale, float cap, cudaStream_t s) {
  softmax_backward_kernel<T, kThreads, kPer><<<static_cast<unsigned>(rows.batches * rows.chunk_rows), kThreads, 0, s>>>(
      static_cast<const T*>(scores), static_cast<const T*>(bias), bstride, lse, static_cast<const T*>(dprobs),
      static_cast<T*>(probs), static_cast<T*>(dscores), rows, scale, cap);
}

// Picks the block size and the vectors per thread (compile-time constants, so the row stays in
// registers) for a row of ld elements: short rows get small blocks instead of idle threads.
template <typename T, typename F>
void by_width(int64_t ld, F&& f) {
  constexpr int64_t v = kVec16<T>;
  if (ld <= 64 * v) f.template operator()<T, 64, 1>();
  else if (ld <= 128 * v) f.template operator()<T, 128, 1>();
  else if (ld <= 256 * v) f.template operator()<T, 256, 1>();
  else if (ld <= 512 * v) f.template operator()<T, 256, 2>();
  else if (ld <= 1024 * v) f.template operator()<T, 256, 4>();  // bf16/fp16 rows up to 8192 end here
  else if constexpr (v == 4) f.template operator()<T, 256, 8>();  // fp32 rows up to 8192 (kSoftcapMaxKeys)
}

template <typename F>
void by_type(OutType type, int64_t ld, F&& f) {
  switch (type) {
    case OutType::kF32: by_width<float>(ld, f); break;
    case OutType::kBF16: by_width<__nv_bfloat16>(ld, f); break;
    case OutType::kF16: by_width<__half>(ld, f); break;
  }
}

struct Forward {
  const void* scores; const void* bias; int64_t bstride; void* probs; float* lse;
  SoftmaxRows rows; float scale, cap; cudaStream_t s;
  template <typename T, int kThreads, int kPer>
  void operator()() const { launch_forward<T, kThreads, kPer>(scores, bias, bstride, probs, lse, rows, scale, cap, s); }
};

struct Backward {
  const void* scores; const void* bias; int64_t bstride; const float* lse; const void* dprobs; void* probs;
  void* dscores; SoftmaxRows rows; float scale, cap; cudaStream_t s;
  template <typename T, int kThreads, int kPer>
  void operator()() const {
    launch_backward<T, kThreads, kPer>(scores, bias, bstride, lse, dprobs, probs, dscores, rows, scale, cap, s);
  }
};

}  // namespace

void softcap_softmax_forward(const void* scores, const void* bias, int64_t bias_batch_stride, void* probs, float* lse,
                             OutType type, const SoftmaxRows& rows, float scale, float cap, void* stream) {
  if (rows.batches * rows.chunk_rows == 0 || rows.keys == 0) return;
  by_type(type, rows.ld,
          Forward{scores, bias, bias_batch_stride, probs, lse, rows, scale, cap, static_cast<cudaStream_t>(stream)});
}

void softcap_softmax_backward(const void* scores, const void* bias, int64_t bias_batch_stride, const float* lse,
                              const void* dprobs, void* probs, void* dscores, OutType type, const SoftmaxRows& rows,
                              float scale, float cap, void* stream) {
  if (rows.batches * rows.chunk_rows == 0 || rows.keys == 0) return;
  by_type(type, rows.ld,
          Backward{scores, bias, bias_batch_stride, lse, dprobs, probs, dscores, rows, scale, cap,
                   static_cast<cudaStream_t>(stream)});
}

}  // namespace arena::cuda
