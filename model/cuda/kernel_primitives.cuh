// The few device operations the flash attention kernel (flash_forward.cuh) is written in, as CUDA
// builtins and PTX. tests/cuda_emu/cuda_emu.h defines the same names on the CPU (threads, barriers
// and the documented register layouts of mma.sync), so the kernel's own source is tested on a
// machine without a GPU; everything the kernel does goes through these names or plain arithmetic.
//
// bf16 values travel as raw 16-bit words (uint16_t) and pairs of them as one 32-bit register, the
// lower address in the low half: the layout mma.sync reads and writes.
#pragma once

#include <cuda_bf16.h>

#include <cstdint>

#define ARENA_KERNEL __global__
#define ARENA_LAUNCH_BOUNDS(threads) __launch_bounds__(threads)
#define ARENA_DEVICE __device__ __forceinline__
#define ARENA_UNROLL _Pragma("unroll")

namespace arena::cuda {

using Vec16 = uint4;  // 16 bytes: 8 bf16

ARENA_DEVICE int thread_x() { return static_cast<int>(threadIdx.x); }
ARENA_DEVICE int64_t block_x() { return blockIdx.x; }
ARENA_DEVICE int64_t block_y() { return blockIdx.y; }
ARENA_DEVICE int64_t grid_x() { return gridDim.x; }
ARENA_DEVICE void block_sync() { __syncthreads(); }

// The block's dynamic shared memory (16-byte aligned).
template <typename T>
ARENA_DEVICE T* dynamic_smem() {
  extern __shared__ uint4 arena_dynamic_smem[];
  return reinterpret_cast<T*>(arena_dynamic_smem);
}

// v from the lane whose index is this lane's XOR mask (all 32 lanes take part).
ARENA_DEVICE float shfl_xor(float v, int mask) { return __shfl_xor_sync(0xffffffffu, v, mask); }

ARENA_DEVICE Vec16 load_vec16(const uint16_t* p) { return *reinterpret_cast<const Vec16*>(p); }
ARENA_DEVICE void store_vec16(uint16_t* p, Vec16 v) { *reinterpret_cast<Vec16*>(p) = v; }
ARENA_DEVICE uint32_t load_u32(const uint16_t* p) { return *reinterpret_cast<const uint32_t*>(p); }
ARENA_DEVICE void store_u32(uint16_t* p, uint32_t v) { *reinterpret_cast<uint32_t*>(p) = v; }
// Element e (0..7) of a Vec16 as a bf16 word.
ARENA_DEVICE uint16_t vec16_element(const Vec16& v, int e) { return reinterpret_cast<const uint16_t*>(&v)[e]; }

ARENA_DEVICE float bf16_word(uint16_t w) { return __uint_as_float(static_cast<uint32_t>(w) << 16); }
ARENA_DEVICE float bf16_low(uint32_t pair) { return __uint_as_float(pair << 16); }
ARENA_DEVICE float bf16_high(uint32_t pair) { return __uint_as_float(pair & 0xffff0000u); }
// Two floats rounded to bf16 (nearest even), lo in the low half.
ARENA_DEVICE uint32_t pack_bf16(float lo, float hi) {
  const __nv_bfloat162 v = __floats2bfloat162_rn(lo, hi);
  return *reinterpret_cast<const uint32_t*>(&v);
}

// Four 8×8 bf16 matrices from shared memory for one warp: lane l gives p = the address of row l % 8
// of matrix l / 8 (16 bytes, 16-byte aligned). Lane l (g = l / 4, t = l % 4) receives in r[i]
// row g, columns 2t and 2t+1 of matrix i; the _trans form gives rows 2t and 2t+1 of column g.
ARENA_DEVICE void ldmatrix_x4(uint32_t (&r)[4], const uint16_t* p) {
  const auto a = static_cast<uint32_t>(__cvta_generic_to_shared(p));
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(a));
}
ARENA_DEVICE void ldmatrix_x4_trans(uint32_t (&r)[4], const uint16_t* p) {
  const auto a = static_cast<uint32_t>(__cvta_generic_to_shared(p));
  asm volatile("ldmatrix.sync.aligned.m8n8.x4.trans.shared.b16 {%0, %1, %2, %3}, [%4];\n"
               : "=r"(r[0]), "=r"(r[1]), "=r"(r[2]), "=r"(r[3])
               : "r"(a));
}

// c += a·b for one warp: a 16×16 bf16 tile (row-major), b 16×8 bf16 (column-major), c 16×8 fp32,
// each lane holding its fragments in the layout of PTX's mma.m16n8k16 (g = lane / 4, t = lane % 4):
//   a[0]: row g, columns 2t, 2t+1      a[1]: row g+8, same columns
//   a[2]: row g, columns 2t+8, 2t+9    a[3]: row g+8, same columns
//   b[0]: rows 2t, 2t+1 of column g    b[1]: rows 2t+8, 2t+9 of column g
//   c[0], c[1]: row g, columns 2t, 2t+1;   c[2], c[3]: row g+8, same columns
ARENA_DEVICE void mma_bf16_16816(float (&c)[4], const uint32_t (&a)[4], const uint32_t (&b)[2]) {
  asm volatile(
      "mma.sync.aligned.m16n8k16.row.col.f32.bf16.bf16.f32 {%0, %1, %2, %3}, {%4, %5, %6, %7}, {%8, %9}, "
      "{%0, %1, %2, %3};\n"
      : "+f"(c[0]), "+f"(c[1]), "+f"(c[2]), "+f"(c[3])
      : "r"(a[0]), "r"(a[1]), "r"(a[2]), "r"(a[3]), "r"(b[0]), "r"(b[1]));
}

}  // namespace arena::cuda
