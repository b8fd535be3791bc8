#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>

#include <cfloat>

#include "model/cuda/cuda_convert.cuh"
#include "model/cuda/nf4_kernels.h"

namespace arena::cuda {
namespace {

__constant__ float kCode[16] = {
    -1.0f, -0.6961928009986877f, -0.5250730514526367f, -0.39491748809814453f,
    -0.28444138169288635f, -0.18477343022823334f, -0.09105003625154495f, 0.0f,
    0.07958029955625534f, 0.16093020141124725f, 0.24611230194568634f, 0.33791524171829224f,
    0.44070982933044434f, 0.5626170039176941f, 0.7229568362236023f, 1.0f};

// Each thread expands 4 packed bytes (8 values). Loads are 4-byte, stores contiguous, so the
// kernel streams at memory bandwidth; blocksize is a multiple of 8, so 8 values share one scale.
template <typename T>
__global__ void dequantize_kernel(const uint8_t* __restrict__ packed, const float* __restrict__ absmax,
                                  T* __restrict__ out, int64_t n, int64_t blocksize) {
  const int64_t first = (static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x) * 8;
  if (first >= n) return;
  if (first + 8 <= n) {
    const uint32_t word = *reinterpret_cast<const uint32_t*>(packed + first / 2);
    const float scale = absmax[first / blocksize];
#pragma unroll
    for (int k = 0; k < 4; ++k) {
      const uint32_t byte = (word >> (8 * k)) & 0xffu;
      out[first + 2 * k] = from_f<T>(__fmul_rn(kCode[byte >> 4], scale));
      out[first + 2 * k + 1] = from_f<T>(__fmul_rn(kCode[byte & 0x0fu], scale));
    }
    return;
  }
  for (int64_t i = first; i < n; ++i) {
    const uint8_t byte = packed[i / 2];
    const uint8_t code = (i % 2 == 0) ? (byte >> 4) : (byte & 0x0f);
    out[i] = from_f<T>(__fmul_rn(kCode[code], absmax[i / blocksize]));
  }
}

// 8 values, one rounding each, to 16 bytes (bf16/f16) or 32 bytes (f32) of output.
template <typename T>
__device__ inline void store8(T* dst, const float (&v)[8]);
template <>
__device__ inline void store8<float>(float* dst, const float (&v)[8]) {
  reinterpret_cast<float4*>(dst)[0] = make_float4(v[0], v[1], v[2], v[3]);
  reinterpret_cast<float4*>(dst)[1] = make_float4(v[4], v[5], v[6], v[7]);
}
__device__ inline uint32_t pack2(uint16_t lo, uint16_t hi) { return static_cast<uint32_t>(lo) | (static_cast<uint32_t>(hi) << 16); }
template <>
__device__ inline void store8<__nv_bfloat16>(__nv_bfloat16* dst, const float (&v)[8]) {
  uint32_t w[4];
#pragma unroll
  for (int k = 0; k < 4; ++k)
    w[k] = pack2(__bfloat16_as_ushort(__float2bfloat16_rn(v[2 * k])), __bfloat16_as_ushort(__float2bfloat16_rn(v[2 * k + 1])));
  *reinterpret_cast<uint4*>(dst) = make_uint4(w[0], w[1], w[2], w[3]);
}
template <>
__device__ inline void store8<__half>(__half* dst, const float (&v)[8]) {
  uint32_t w[4];
#pragma unroll
  for (int k = 0; k < 4; ++k)
    w[k] = pack2(__half_as_ushort(__float2half_rn(v[2 * k])), __half_as_ushort(__float2half_rn(v[2 * k + 1])));
  *reinterpret_cast<uint4*>(dst) = make_uint4(w[0], w[1], w[2], w[3]);
}

// Thread t expands values 32t .. 32t+31: one 16-byte load of codes, one scale (blocksize is a
// multiple of 32), 16-byte stores. The scale is un-nested here with the same roundings as
// unnest_kernel, so the result is bit-identical to unnest + dequantize_kernel.
template <typename T>
__global__ void dequantize_fused_kernel(const uint4* __restrict__ packed, const float* __restrict__ absmax,
                                        const uint8_t* __restrict__ q, const float* __restrict__ map,
                                        const float* __restrict__ nested_absmax, float offset, T* __restrict__ out,
                                        int64_t groups, int64_t blocksize, int64_t nested_blocksize) {
  // The codebook in shared memory: constant memory serializes a warp's lookups when its lanes
  // read different entries (every lookup here), shared memory serves 16 entries in 16 banks.
  __shared__ float code[16];
  if (threadIdx.x < 16) code[threadIdx.x] = kCode[threadIdx.x];
  __syncthreads();
  const int64_t g = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (g >= groups) return;
  const uint4 codes = packed[g];
  const int64_t first = g * 32;
  const int64_t block = first / blocksize;
  const float scale = absmax != nullptr
                          ? absmax[block]
                          : __fadd_rn(__fmul_rn(map[q[block]], nested_absmax[block / nested_blocksize]), offset);
  const uint32_t words[4] = {codes.x, codes.y, codes.z, codes.w};
#pragma unroll
  for (int part = 0; part < 4; ++part) {  // 4 bytes -> 8 values each
    float v[8];
#pragma unroll
    for (int k = 0; k < 4; ++k) {
      const uint32_t byte = (words[part] >> (8 * k)) & 0xffu;
      v[2 * k] = __fmul_rn(code[byte >> 4], scale);
      v[2 * k + 1] = __fmul_rn(code[byte & 0x0fu], scale);
    }
    store8<T>(out + first + 8 * part, v);
  }
}

__global__ void unnest_kernel(const uint8_t* q, const float* map, const float* nested_absmax, float offset,
                              float* absmax, int64_t blocks, int64_t nested_blocksize) {
  const int64_t b = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x;
  if (b < blocks) absmax[b] = __fadd_rn(__fmul_rn(map[q[b]], nested_absmax[b / nested_blocksize]), offset);
}

__device__ inline float warp_max(float v) {
#pragma unroll
  for (int o = 16; o > 0; o >>= 1) v = fmaxf(v, __shfl_xor_sync(0xffffffffu, v, o));
  return v;
}

// One warp per 64-value block: lane l owns values 2l and 2l+1, i.e. exactly byte l.
__global__ void nf4_quantize_kernel(const float* __restrict__ x, uint8_t* __restrict__ packed,
                                    float* __restrict__ absmax, int64_t n, int64_t blocks) {
  const int64_t block = (static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x) / 32;
  const int lane = threadIdx.x % 32;
  if (block >= blocks) return;  // whole warps exit together
  const int64_t i0 = block * 64 + 2 * lane;
  const float a = i0 < n ? x[i0] : 0.0f;
  const float b = i0 + 1 < n ? x[i0 + 1] : 0.0f;
  const float amax = warp_max(fmaxf(fabsf(a), fabsf(b)));
  const bool partial = (block + 1) * 64 > n;
  const float safe = fmaxf(amax, 1e-38f);
  const float inv = __fdiv_rn(1.0f, safe);
  uint8_t codes[2];
  const float vals[2] = {a, b};
#pragma unroll
  for (int k = 0; k < 2; ++k) {
    const float v = fminf(fmaxf(partial ? __fdiv_rn(vals[k], safe) : __fmul_rn(vals[k], inv), -1.0f), 1.0f);
    uint8_t c = 0;
#pragma unroll
    for (int m = 0; m < 15; ++m) c += (__fmul_rn(__fadd_rn(kCode[m], kCode[m + 1]), 0.5f) < v) ? 1 : 0;
    codes[k] = c;
  }
  if (i0 < n) packed[i0 / 2] = static_cast<uint8_t>((codes[0] << 4) | (i0 + 1 < n ? codes[1] : 0));
  if (lane == 0) absmax[block] = amax;
}

// One thread block of 256 threads per quantization block. The code comes from bitsandbytes'
// 65536-entry table (model/quant/quant8.h), indexed with the same separate fp32 roundings.
__global__ void quant8_kernel(const float* __restrict__ x, const uint8_t* __restrict__ lut, uint8_t* __restrict__ codes,
                              float* __restrict__ absmax, int64_t n, int64_t blocksize) {
  __shared__ float swarp[8];
  const int64_t begin = static_cast<int64_t>(blockIdx.x) * blocksize;
  const int64_t end = min(n, begin + blocksize);
  float amax = 0.0f;
  for (int64_t i = begin + threadIdx.x; i < end; i += blockDim.x) amax = fmaxf(amax, fabsf(x[i]));
  amax = warp_max(amax);
  if (threadIdx.x % 32 == 0) swarp[threadIdx.x / 32] = amax;
  __syncthreads();
  amax = 0.0f;
  for (int w = 0; w < 8; ++w) amax = fmaxf(amax, swarp[w]);
  if (threadIdx.x == 0) absmax[blockIdx.x] = amax;
  const float inv = amax == 0.0f ? 0.0f : __fdiv_rn(1.0f, amax);
  for (int64_t i = begin + threadIdx.x; i < end; i += blockDim.x) {
    if (amax == 0.0f) {
      codes[i] = 0;
      continue;
    }
    const float v = fminf(fmaxf(__fmul_rn(x[i], inv), -1.0f), 1.0f);
    const float scaled = __fmul_rn(__fmul_rn(__fadd_rn(v, 1.0f), 0.5f), 65535.0f);
    codes[i] = lut[static_cast<uint16_t>(__fadd_rn(scaled, 0.5f))];
  }
}

int grid_for(int64_t threads, int per_block) { return static_cast<int>((threads + per_block - 1) / per_block); }

}  // namespace

void nf4_dequantize(const uint8_t* packed, const float* absmax, void* out, OutType type, int64_t n,
                    int64_t blocksize, void* stream) {
  const auto s = static_cast<cudaStream_t>(stream);
  const int grid = grid_for((n + 7) / 8, 256);
  if (grid == 0) return;
  switch (type) {
    case OutType::kF32:
      dequantize_kernel<<<grid, 256, 0, s>>>(packed, absmax, static_cast<float*>(out), n, blocksize);
      break;
    case OutType::kBF16:
      dequantize_kernel<<<grid, 256, 0, s>>>(packed, absmax, static_cast<__nv_bfloat16*>(out), n, blocksize);
      break;
    case OutType::kF16:
      dequantize_kernel<<<grid, 256, 0, s>>>(packed, absmax, static_cast<__half*>(out), n, blocksize);
      break;
  }
}

bool nf4_dequantize_fused(const uint8_t* packed, const float* absmax, const uint8_t* q, const float* map,
                          const float* nested_absmax, float offset, void* out, OutType type, int64_t n,
                          int64_t blocksize, int64_t nested_blocksize, void* stream) {
  const auto aligned = [](const void* p) { return reinterpret_cast<uintptr_t>(p) % 16 == 0; };
  if (n % 32 != 0 || blocksize % 32 != 0 || !aligned(packed) || !aligned(out)) return false;
  const int64_t groups = n / 32;
  const int grid = grid_for(groups, 256);
  if (grid == 0) return true;
  const auto s = static_cast<cudaStream_t>(stream);
  const auto* p = reinterpret_cast<const uint4*>(packed);
  switch (type) {
    case OutType::kF32:
      dequantize_fused_kernel<<<grid, 256, 0, s>>>(p, absmax, q, map, nested_absmax, offset, static_cast<float*>(out),
                                                   groups, blocksize, nested_blocksize);
      break;
    case OutType::kBF16:
      dequantize_fused_kernel<<<grid, 256, 0, s>>>(p, absmax, q, map, nested_absmax, offset,
                                                   static_cast<__nv_bfloat16*>(out), groups, blocksize, nested_blocksize);
      break;
    case OutType::kF16:
      dequantize_fused_kernel<<<grid, 256, 0, s>>>(p, absmax, q, map, nested_absmax, offset, static_cast<__half*>(out),
                                                   groups, blocksize, nested_blocksize);
      break;
  }
  return true;
}

void nf4_unnest_absmax(const uint8_t* q, const float* map, const float* nested_absmax, float offset, float* absmax,
                       int64_t blocks, int64_t nested_blocksize, void* stream) {
  const int grid = grid_for(blocks, 256);
  if (grid == 0) return;
  unnest_kernel<<<grid, 256, 0, static_cast<cudaStream_t>(stream)>>>(q, map, nested_absmax, offset, absmax, blocks,
                                                                      nested_blocksize);
}

void nf4_quantize(const float* x, uint8_t* packed, float* absmax, int64_t n, int64_t blocksize, void* stream) {
  (void)blocksize;  // the kernel is written for bitsandbytes' blocksize 64 (checked by the caller)
  const int64_t blocks = (n + 63) / 64;
  const int grid = grid_for(blocks * 32, 256);
  if (grid == 0) return;
  nf4_quantize_kernel<<<grid, 256, 0, static_cast<cudaStream_t>(stream)>>>(x, packed, absmax, n, blocks);
}

void quant8_quantize(const float* x, const uint8_t* lut, uint8_t* codes, float* absmax, int64_t n, int64_t blocksize,
                     void* stream) {
  const int64_t blocks = (n + blocksize - 1) / blocksize;
  if (blocks == 0) return;
  quant8_kernel<<<static_cast<int>(blocks), 256, 0, static_cast<cudaStream_t>(stream)>>>(x, lut, codes, absmax, n,
                                                                                        blocksize);
}

const char* last_launch_error() {
  const cudaError_t e = cudaGetLastError();
  return e == cudaSuccess ? nullptr : cudaGetErrorString(e);
}

}  // namespace arena::cuda
