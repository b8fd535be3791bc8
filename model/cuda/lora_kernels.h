// Raw CUDA launchers for LoRA's first half with its input dropout fused in, forward and input
// gradient (no torch types).
// Pointers are device pointers, tensors contiguous; work is queued on `stream`.
#pragma once

#include <cstdint>

#include "model/cuda/nf4_kernels.h"  // OutType

namespace arena::cuda {

// The largest adapter rank dropout_down handles; larger ranks take the unfused path.
constexpr int64_t kDropoutDownMaxRank = 32;

// out[t, j] = Σ_i d[t, i]·a[j, i] for x [rows, in], a [r, in], out [rows, r], where d is the
// seeded dropout of x exactly as arena::seeded_dropout writes it: d[t, i] = keep(seed, t·in + i) ?
// round(x[t, i]·scale) : 0 (model/cuda/dropout_hash.h). The dropped copy of x is never written to
// memory: each block stages 16 rows of it in shared memory and multiplies them on the tensor cores
// (fp32 accumulation, one rounding of the result). bf16 and fp16 only, 1 ≤ r ≤ kDropoutDownMaxRank.
void dropout_down(const void* x, const void* a, void* out, OutType type, int64_t rows, int64_t in, int64_t r,
                  uint64_t seed, uint32_t threshold, float scale, void* stream);

// The input gradient of that product, with the add autograd would run after it:
//   dx[t, i] = keep(seed, t·in + i) ? round(round(Σ_j g[t, j]·a[j, i])·scale) : 0  (+ add[t, i], rounded)
// for g [rows, r], a [r, in], dx and add [rows, in] (add may be null). These are the roundings of
// seeded_dropout(g·a) followed by an add in the storage type; only the order of the fp32 sum over j
// differs from cuBLAS. One pass that writes dx once, instead of a GEMM output, a dropout pass over
// it and an add. bf16 and fp16 only, 1 ≤ r ≤ kDropoutDownMaxRank.
void dropout_down_input_grad(const void* g, const void* a, const void* add, void* dx, OutType type, int64_t rows,
                             int64_t in, int64_t r, uint64_t seed, uint32_t threshold, float scale, void* stream);

// The weight gradient of the same product, without writing the dropped copy of x:
//   da[j, i] = round(Σ_t g[t, j]·d[t, i])  for g [rows, r], da [r, in],
// d as in dropout_down, of x [rows, in], or of the GeGLU value round(gelu_tanh(x)·up) when `up` is
// not null (x is then the gate; the value is computed as the fused GeGLU kernel computes it).
// The sum over rows runs on the tensor cores in dropout_weight_grad_splits(rows) slices of 512 rows
// whose fp32 partial sums go to `partial` [splits, r, in] and are added in a fixed order (the result
// does not depend on scheduling). bf16 and fp16 only, 1 ≤ r ≤ kDropoutDownMaxRank.
int64_t dropout_weight_grad_splits(int64_t rows);
void dropout_weight_grad(const void* g, const void* x, const void* up, float* partial, void* da, OutType type,
                         int64_t rows, int64_t in, int64_t r, uint64_t seed, uint32_t threshold, float scale,
                         void* stream);

}  // namespace arena::cuda
