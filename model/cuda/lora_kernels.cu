#include <cuda_bf16.h>
#include <cuda_fp16.h>
#include <cuda_runtime.h>
#include <mma.h>

#include <type_traits>

#include "model/cuda/cuda_convert.cuh"
#include "model/cuda/dropout_hash.h"
#include "model/cuda/geglu_math.cuh"
#include "model/cuda/lora_kernels.h"

namespace arena::cuda {
namespace {

namespace wmma = nvcuda::wmma;

constexpr int kWarps = 4;        // warps per block of the weight gradient; dropout_down picks its own
constexpr int kRows = 16;        // rows of x per block: one tensor-core tile
constexpr int kChunk = 64;       // columns of x a warp stages per step
constexpr int kLd = kChunk + 8;  // padded shared row in elements (wmma needs a multiple of 8)

// The value dropout applies to: x itself, or the GeGLU value of (gate, up) rounded to T as the
// fused GeGLU kernel stores it.
template <typename T>
struct PlainInput {
  const T* x;
  __device__ float operator()(int64_t flat) const { return to_f(x[flat]); }
};
template <typename T>
struct GegluInput {
  const T* gate;
  const T* up;
  __device__ float operator()(int64_t flat) const {
    return to_f(from_f<T>(geglu_f(to_f(gate[flat]), to_f(up[flat]))));
  }
};

// seeded_dropout's values (before the rounding to T) of elements flat and flat + 1, each 0 unless
// valid: one hash for the pair when flat is even (model/cuda/dropout_hash.h), two otherwise.
template <typename Input>
__device__ inline float2 dropped_pair(const Input& input, int64_t flat, bool valid0, bool valid1, uint64_t seed,
                                      uint32_t threshold, float scale) {
  bool keep0, keep1;
  if ((flat & 1) == 0) {
    const KeepPair k = dropout_keep_pair(seed, static_cast<uint64_t>(flat), threshold);
    keep0 = k.first;
    keep1 = k.second;
  } else {
    keep0 = dropout_keep(seed, static_cast<uint64_t>(flat), threshold);
    keep1 = dropout_keep(seed, static_cast<uint64_t>(flat + 1), threshold);
  }
  return make_float2(valid0 && keep0 ? input(flat) * scale : 0.0f, valid1 && keep1 ? input(flat + 1) * scale : 0.0f);
}

// One block per 16 rows. Warp w of kW takes the column chunks w, w + kW, ...: it stages the dropped
// x chunk and the matching columns of A (zero-padded to 16·kTiles rows) in its own shared tiles and
// accumulates x·Aᵀ in fp32 fragments. The kW partial tiles are then summed in a fixed order.
// kW = 8 for r ≤ 16 (more warps per SM at 4 × 1900 rows), 4 for r ≤ 32 (shared memory).
template <typename T, int kTiles, int kW>
__global__ void __launch_bounds__(kW * 32)
    dropout_down_kernel(const T* __restrict__ x, const T* __restrict__ a, T* __restrict__ out, int64_t rows,
                        int64_t in, int r, uint64_t seed, uint32_t threshold, float scale) {
  __shared__ __align__(32) T xs[kW][kRows][kLd];
  __shared__ __align__(32) T as[kW][16 * kTiles][kLd];
  __shared__ __align__(32) float partial[kW][16][16];

  const int warp = static_cast<int>(threadIdx.x) / 32;
  const int lane = static_cast<int>(threadIdx.x) % 32;
  const int64_t row0 = static_cast<int64_t>(blockIdx.x) * kRows;

  wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc[kTiles];
#pragma unroll
  for (int j = 0; j < kTiles; ++j) wmma::fill_fragment(acc[j], 0.0f);

  const int64_t chunks = (in + kChunk - 1) / kChunk;
  for (int64_t c = warp; c < chunks; c += kW) {
    const int64_t col0 = c * kChunk;
    const PlainInput<T> input{x};
#pragma unroll 4
    for (int rr = 0; rr < kRows; ++rr) {  // lane stages columns 2·lane and 2·lane + 1 of each row
      const int64_t t = row0 + rr;
      const int k = 2 * lane;
      const int64_t col = col0 + k;
      const float2 v = dropped_pair(input, t * in + col, t < rows && col < in, t < rows && col + 1 < in, seed,
                                    threshold, scale);
      xs[warp][rr][k] = from_f<T>(v.x);  // the values seeded_dropout would store
      xs[warp][rr][k + 1] = from_f<T>(v.y);
    }
    for (int n = 0; n < 16 * kTiles; ++n) {
#pragma unroll
      for (int h = 0; h < 2; ++h) {
        const int k = lane + 32 * h;
        const int64_t col = col0 + k;
        as[warp][n][k] = (n < r && col < in) ? a[static_cast<int64_t>(n) * in + col] : from_f<T>(0.0f);
      }
    }
    __syncwarp();
#pragma unroll
    for (int k = 0; k < kChunk; k += 16) {
      wmma::fragment<wmma::matrix_a, 16, 16, 16, T, wmma::row_major> fx;
      wmma::load_matrix_sync(fx, &xs[warp][0][k], kLd);
#pragma unroll
      for (int j = 0; j < kTiles; ++j) {
        // Aᵀ as the K×N operand: element (k, n) = A[n][k] = as[16j + n][k], i.e. column-major.
        wmma::fragment<wmma::matrix_b, 16, 16, 16, T, wmma::col_major> fa;
        wmma::load_matrix_sync(fa, &as[warp][16 * j][k], kLd);
        wmma::mma_sync(acc[j], fx, fa, acc[j]);
      }
    }
    __syncwarp();  // the tiles are restaged next step
  }

#pragma unroll
  for (int j = 0; j < kTiles; ++j) {
    wmma::store_matrix_sync(&partial[warp][0][0], acc[j], 16, wmma::mem_row_major);
    __syncthreads();
    for (int e = static_cast<int>(threadIdx.x); e < 16 * 16; e += kW * 32) {
      const int rr = e / 16;
      const int col = 16 * j + e % 16;
      const int64_t t = row0 + rr;
      if (t < rows && col < r) {
        float s = 0.0f;
#pragma unroll
        for (int w = 0; w < kW; ++w) s += partial[w][rr][e % 16];
        out[t * r + col] = from_f<T>(s);
      }
    }
    __syncthreads();
  }
}

template <typename T>
void launch(const void* x, const void* a, void* out, int64_t rows, int64_t in, int64_t r, uint64_t seed,
            uint32_t threshold, float scale, cudaStream_t stream) {
  const auto blocks = static_cast<unsigned>((rows + kRows - 1) / kRows);
  const auto args = [&](auto kernel, int warps) {
    kernel<<<blocks, warps * 32, 0, stream>>>(static_cast<const T*>(x), static_cast<const T*>(a),
                                              static_cast<T*>(out), rows, in, static_cast<int>(r), seed, threshold,
                                              scale);
  };
  if (r <= 16) {
    args(dropout_down_kernel<T, 1, 8>, 8);
  } else {
    args(dropout_down_kernel<T, 2, 4>, 4);
  }
}

// Block: 512 consecutive columns × 16 rows. Each thread keeps two adjacent columns of A in
// registers (one dropout hash per pair) and reads the 16 rows of g from shared memory (a
// broadcast), so A is read once per 16 rows.
constexpr int kGradThreads = 256;
constexpr int kGradCols = 2 * kGradThreads;
constexpr int kGradRows = 16;

template <typename T, int kMaxR>
__global__ void __launch_bounds__(kGradThreads)
    dropout_down_input_grad_kernel(const T* __restrict__ g, const T* __restrict__ a, const T* __restrict__ add,
                                   T* __restrict__ dx, int64_t rows, int64_t in, int r, uint64_t seed,
                                   uint32_t threshold, float scale) {
  __shared__ float gs[kGradRows][kMaxR];
  const int64_t row0 = static_cast<int64_t>(blockIdx.x) * kGradRows;  // rows on x: no 65535 limit
  for (int e = static_cast<int>(threadIdx.x); e < kGradRows * kMaxR; e += kGradThreads) {
    const int rr = e / kMaxR, j = e % kMaxR;
    const int64_t t = row0 + rr;
    gs[rr][j] = (t < rows && j < r) ? to_f(g[t * r + j]) : 0.0f;
  }
  __syncthreads();
  const int64_t col = static_cast<int64_t>(blockIdx.y) * kGradCols + 2 * static_cast<int64_t>(threadIdx.x);
  if (col >= in) return;  // after the only barrier
  const bool second = col + 1 < in;
  float a0[kMaxR], a1[kMaxR];
#pragma unroll
  for (int j = 0; j < kMaxR; ++j) {
    a0[j] = j < r ? to_f(a[static_cast<int64_t>(j) * in + col]) : 0.0f;
    a1[j] = j < r && second ? to_f(a[static_cast<int64_t>(j) * in + col + 1]) : 0.0f;
  }
#pragma unroll 2
  for (int rr = 0; rr < kGradRows; ++rr) {
    const int64_t t = row0 + rr;
    if (t >= rows) break;
    float v0 = 0.0f, v1 = 0.0f;
#pragma unroll
    for (int j = 0; j < kMaxR; ++j) {  // padded j contribute exact zeros
      v0 = fmaf(gs[rr][j], a0[j], v0);
      v1 = fmaf(gs[rr][j], a1[j], v1);
    }
    // The product rounded to T as the GEMM stores it, then dropout's scaling and rounding.
    const float p0 = to_f(from_f<T>(v0)), p1 = to_f(from_f<T>(v1));
    const int64_t flat = t * in + col;
    const auto product = [&](int64_t f) { return f == flat ? p0 : p1; };
    const float2 d = dropped_pair(product, flat, true, second, seed, threshold, scale);
    if (add != nullptr) {
      dx[flat] = from_f<T>(to_f(from_f<T>(d.x)) + to_f(add[flat]));
      if (second) dx[flat + 1] = from_f<T>(to_f(from_f<T>(d.y)) + to_f(add[flat + 1]));
    } else {
      dx[flat] = from_f<T>(d.x);
      if (second) dx[flat + 1] = from_f<T>(d.y);
    }
  }
}

template <typename T>
void launch_input_grad(const void* g, const void* a, const void* add, void* dx, int64_t rows, int64_t in, int64_t r,
                       uint64_t seed, uint32_t threshold, float scale, cudaStream_t stream) {
  const dim3 grid(static_cast<unsigned>((rows + kGradRows - 1) / kGradRows),
                  static_cast<unsigned>((in + kGradCols - 1) / kGradCols));
  const auto run = [&](auto kernel) {
    kernel<<<grid, kGradThreads, 0, stream>>>(static_cast<const T*>(g), static_cast<const T*>(a),
                                              static_cast<const T*>(add), static_cast<T*>(dx), rows, in,
                                              static_cast<int>(r), seed, threshold, scale);
  };
  if (r <= 16) {
    run(dropout_down_input_grad_kernel<T, 16>);
  } else {
    run(dropout_down_input_grad_kernel<T, 32>);
  }
}

constexpr int kWgRows = 512;               // rows of the reduction per block (one split)
constexpr int kWgCols = kWarps * 16;       // columns per block: 16 per warp
constexpr int kWgLdD = 16 + 8;             // padded shared rows (multiples of 8 elements)

// Block (column tile, split): warp w owns 16 columns and the split's rows, 16 at a time: it stages
// its dropped d tile [16 rows × 16 columns] in shared memory, the block stages the g tile
// [16 rows × 16·kTiles] once for all warps, and each warp accumulates gᵀ·d in fp32 fragments,
// then writes its fp32 partial sums.
template <typename T, int kTiles, typename Input>
__global__ void __launch_bounds__(kWarps * 32)
    dropout_weight_grad_kernel(const T* __restrict__ g, Input input, float* __restrict__ partial, int64_t rows,
                               int64_t in, int r, uint64_t seed, uint32_t threshold, float scale) {
  constexpr int kLdG = 16 * kTiles + 8;
  __shared__ __align__(32) T ds[kWarps][16][kWgLdD];
  __shared__ __align__(32) T gs[16][kLdG];
  __shared__ __align__(32) float out_s[kWarps][16][16];

  const int warp = static_cast<int>(threadIdx.x) / 32;
  const int lane = static_cast<int>(threadIdx.x) % 32;
  const int64_t col0 = static_cast<int64_t>(blockIdx.x) * kWgCols + warp * 16;
  const int64_t t_begin = static_cast<int64_t>(blockIdx.y) * kWgRows;
  const int64_t t_end = t_begin + kWgRows < rows ? t_begin + kWgRows : rows;

  wmma::fragment<wmma::accumulator, 16, 16, 16, float> acc[kTiles];
#pragma unroll
  for (int j = 0; j < kTiles; ++j) wmma::fill_fragment(acc[j], 0.0f);

  for (int64_t t0 = t_begin; t0 < t_end; t0 += 16) {
#pragma unroll 2
    for (int q = 0; q < 4; ++q) {  // 16 × 16 dropped values, 4 adjacent pairs per lane
      const int e = lane + 32 * q;
      const int k = e / 8, n = 2 * (e % 8);
      const int64_t t = t0 + k, col = col0 + n;
      const float2 v =
          dropped_pair(input, t * in + col, t < t_end && col < in, t < t_end && col + 1 < in, seed, threshold, scale);
      ds[warp][k][n] = from_f<T>(v.x);
      ds[warp][k][n + 1] = from_f<T>(v.y);
    }
    for (int q = 0; q < 2 * kTiles; ++q) {  // 16 rows of g, zero-padded to 16·kTiles columns
      const int e = static_cast<int>(threadIdx.x) + kWarps * 32 * q;
      const int k = e / (16 * kTiles), m = e % (16 * kTiles);
      const int64_t t = t0 + k;
      gs[k][m] = (t < t_end && m < r) ? g[t * r + m] : from_f<T>(0.0f);
    }
    __syncthreads();  // every warp runs the same row loop: the barrier is uniform
    // d as the K×N operand (row-major); gᵀ as the M×K operand: element (m, k) = g[k][m], column-major.
    wmma::fragment<wmma::matrix_b, 16, 16, 16, T, wmma::row_major> fd;
    wmma::load_matrix_sync(fd, &ds[warp][0][0], kWgLdD);
#pragma unroll
    for (int j = 0; j < kTiles; ++j) {
      wmma::fragment<wmma::matrix_a, 16, 16, 16, T, wmma::col_major> fg;
      wmma::load_matrix_sync(fg, &gs[0][16 * j], kLdG);
      wmma::mma_sync(acc[j], fg, fd, acc[j]);
    }
    __syncthreads();  // the tiles are restaged next step
  }

#pragma unroll
  for (int j = 0; j < kTiles; ++j) {
    wmma::store_matrix_sync(&out_s[warp][0][0], acc[j], 16, wmma::mem_row_major);
    __syncwarp();
    for (int e = lane; e < 16 * 16; e += 32) {
      const int m = 16 * j + e / 16;
      const int64_t col = col0 + e % 16;
      if (m < r && col < in) {
        partial[(static_cast<int64_t>(blockIdx.y) * r + m) * in + col] = out_s[warp][e / 16][e % 16];
      }
    }
    __syncwarp();
  }
}

// da = round(Σ over splits, in split order).
template <typename T>
__global__ void sum_splits_kernel(const float* __restrict__ partial, T* __restrict__ da, int64_t splits,
                                  int64_t n) {
  for (int64_t i = static_cast<int64_t>(blockIdx.x) * blockDim.x + threadIdx.x; i < n;
       i += static_cast<int64_t>(gridDim.x) * blockDim.x) {
    float s = 0.0f;
    for (int64_t k = 0; k < splits; ++k) s += partial[k * n + i];
    da[i] = from_f<T>(s);
  }
}

template <typename T>
void launch_weight_grad(const void* g, const void* x, const void* up, float* partial, void* da, int64_t rows,
                        int64_t in, int64_t r, uint64_t seed, uint32_t threshold, float scale, cudaStream_t stream) {
  const int64_t splits = dropout_weight_grad_splits(rows);
  const dim3 grid(static_cast<unsigned>((in + kWgCols - 1) / kWgCols), static_cast<unsigned>(splits));
  const auto run = [&](auto input) {
    using Input = decltype(input);
    if (r <= 16) {
      dropout_weight_grad_kernel<T, 1, Input><<<grid, kWarps * 32, 0, stream>>>(
          static_cast<const T*>(g), input, partial, rows, in, static_cast<int>(r), seed, threshold, scale);
    } else {
      dropout_weight_grad_kernel<T, 2, Input><<<grid, kWarps * 32, 0, stream>>>(
          static_cast<const T*>(g), input, partial, rows, in, static_cast<int>(r), seed, threshold, scale);
    }
  };
  if (up != nullptr) {
    run(GegluInput<T>{static_cast<const T*>(x), static_cast<const T*>(up)});
  } else {
    run(PlainInput<T>{static_cast<const T*>(x)});
  }
  const int64_t n = r * in;
  sum_splits_kernel<T><<<grid_stride_blocks(n, 256), 256, 0, stream>>>(partial, static_cast<T*>(da), splits, n);
}

// Calls f with a null T* for the storage types the LoRA kernels take (bf16, fp16); no call for
// others (the torch-facing wrappers route fp32 to the unfused path).
template <typename F>
void by_half_type(OutType type, F&& f) {
  if (type == OutType::kBF16) f(static_cast<__nv_bfloat16*>(nullptr));
  if (type == OutType::kF16) f(static_cast<__half*>(nullptr));
}

}  // namespace

int64_t dropout_weight_grad_splits(int64_t rows) { return rows <= 0 ? 1 : (rows + kWgRows - 1) / kWgRows; }

void dropout_weight_grad(const void* g, const void* x, const void* up, float* partial, void* da, OutType type,
                         int64_t rows, int64_t in, int64_t r, uint64_t seed, uint32_t threshold, float scale,
                         void* stream) {
  if (in == 0 || r == 0) return;
  const auto s = static_cast<cudaStream_t>(stream);
  by_half_type(type, [&](auto* tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    launch_weight_grad<T>(g, x, up, partial, da, rows, in, r, seed, threshold, scale, s);
  });
}

void dropout_down_input_grad(const void* g, const void* a, const void* add, void* dx, OutType type, int64_t rows,
                             int64_t in, int64_t r, uint64_t seed, uint32_t threshold, float scale, void* stream) {
  if (rows == 0 || in == 0) return;
  const auto s = static_cast<cudaStream_t>(stream);
  by_half_type(type, [&](auto* tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    launch_input_grad<T>(g, a, add, dx, rows, in, r, seed, threshold, scale, s);
  });
}

void dropout_down(const void* x, const void* a, void* out, OutType type, int64_t rows, int64_t in, int64_t r,
                  uint64_t seed, uint32_t threshold, float scale, void* stream) {
  if (rows == 0 || r == 0) return;
  const auto s = static_cast<cudaStream_t>(stream);
  by_half_type(type, [&](auto* tag) {
    using T = std::remove_pointer_t<decltype(tag)>;
    launch<T>(x, a, out, rows, in, r, seed, threshold, scale, s);
  });
}

}  // namespace arena::cuda
