// Raw CUDA launcher for LoRA's first half with its input dropout fused in (no torch types).
// Pointers are device pointers, tensors contiguous; work is queued on `stream`.
#pragma once

#include <cstdint>

#include "model/nf4_kernels.h"  // OutType

namespace arena::cuda {

// The largest adapter rank dropout_down handles; larger ranks take the unfused path.
constexpr int64_t kDropoutDownMaxRank = 32;

// out[t, j] = Σ_i d[t, i]·a[j, i] for x [rows, in], a [r, in], out [rows, r], where d is the
// seeded dropout of x exactly as arena::seeded_dropout writes it: d[t, i] = keep(seed, t·in + i) ?
// round(x[t, i]·scale) : 0 (model/dropout_hash.h). The dropped copy of x is never written to
// memory: each block stages 16 rows of it in shared memory and multiplies them on the tensor cores
// (fp32 accumulation, one rounding of the result). bf16 and fp16 only, 1 ≤ r ≤ kDropoutDownMaxRank.
void dropout_down(const void* x, const void* a, void* out, OutType type, int64_t rows, int64_t in, int64_t r,
                  uint64_t seed, uint32_t threshold, float scale, void* stream);

}  // namespace arena::cuda
