// What the CUDA kernels share: fp32 <-> storage-type conversions (fp32 arithmetic, one rounding on
// store, round-to-nearest-even) and the grid size of a grid-stride loop.
#pragma once

#include <cuda_bf16.h>
#include <cuda_fp16.h>

#include <cstdint>

namespace arena::cuda {

template <typename T>
__device__ inline float to_f(T v);
template <>
__device__ inline float to_f<float>(float v) { return v; }
template <>
__device__ inline float to_f<__nv_bfloat16>(__nv_bfloat16 v) { return __bfloat162float(v); }
template <>
__device__ inline float to_f<__half>(__half v) { return __half2float(v); }

template <typename T>
__device__ inline T from_f(float v);
template <>
__device__ inline float from_f<float>(float v) { return v; }
template <>
__device__ inline __nv_bfloat16 from_f<__nv_bfloat16>(float v) { return __float2bfloat16_rn(v); }
template <>
__device__ inline __half from_f<__half>(float v) { return __float2half_rn(v); }

// Elements of T in one 16-byte access (8 bf16 or fp16, 4 fp32).
template <typename T>
constexpr int kVec16 = 16 / static_cast<int>(sizeof(T));

// kVec16<T> elements at p (16-byte aligned) into fp32, in one load.
template <typename T>
__device__ inline void load16(const T* p, float* out) {
  const uint4 u = *reinterpret_cast<const uint4*>(p);
  const T* t = reinterpret_cast<const T*>(&u);
#pragma unroll
  for (int e = 0; e < kVec16<T>; ++e) out[e] = to_f(t[e]);
}

// kVec16<T> fp32 values rounded to T and stored at p (16-byte aligned) in one store.
template <typename T>
__device__ inline void store16(T* p, const float* in) {
  alignas(16) T t[kVec16<T>];
#pragma unroll
  for (int e = 0; e < kVec16<T>; ++e) t[e] = from_f<T>(in[e]);
  *reinterpret_cast<uint4*>(p) = *reinterpret_cast<const uint4*>(t);
}

// Blocks for a grid-stride loop over `items` with `threads` per block: one item per thread up to
// about 16 blocks per SM of an H100 (132 SMs), the loop strides beyond that.
inline int grid_stride_blocks(int64_t items, int threads) {
  const int64_t blocks = (items + threads - 1) / threads;
  return static_cast<int>(blocks < 132 * 16 ? blocks : 132 * 16);
}

}  // namespace arena::cuda
