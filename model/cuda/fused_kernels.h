// Raw CUDA launchers for the fused element-wise parts of a Gemma-2 layer (no torch types).
// All pointers are device pointers, tensors contiguous; work is queued on `stream`.
#pragma once

#include <cstdint>

#include "model/cuda/nf4_kernels.h"  // OutType

namespace arena::cuda {

// Gemma RMSNorm over rows of n: y = (x·r)·(1 + w), r = rsqrt(mean(x²) + eps), all in fp32, one
// rounding to `type` (x, w and y share it). rstd receives r per row (fp32).
void rms_norm_forward(const void* x, const void* w, void* y, float* rstd, OutType type, int64_t rows, int64_t n,
                      float eps, void* stream);
// dx = r·(dy·g − x̂·mean(dy·g·x̂)), x̂ = x·r, g = 1 + w.
void rms_norm_backward(const void* x, const void* w, const float* rstd, const void* dy, void* dx, OutType type,
                       int64_t rows, int64_t n, void* stream);

// GeGLU: out = gelu_tanh(gate)·up (fp32 inside, one rounding).
void geglu_forward(const void* gate, const void* up, void* out, OutType type, int64_t n, void* stream);
// d_gate = d_out·up·gelu'(gate), d_up = d_out·gelu(gate).
void geglu_backward(const void* gate, const void* up, const void* d_out, void* d_gate, void* d_up, OutType type,
                    int64_t n, void* stream);

// Seeded dropout (model/cuda/dropout_hash.h): y[i] = keep(seed, i) ? x[i]·scale : 0, fp32 arithmetic,
// one rounding; the same bits as the CPU path of arena::seeded_dropout.
void seeded_dropout(const void* x, void* y, OutType type, int64_t n, uint64_t seed, uint32_t threshold, float scale,
                    void* stream);

// Rotary embedding (rotate-half) fused with the head layout change, mirroring the eager chain's
// roundings (each product rounded to `type`, then the sum), so the result is bit-identical to
// x·cos + rotate_half(x)·sin:
//   forward:  x [B, S, H·D] -> y [B, H, S, D];  y1 = x1·c1 − x2·s1,  y2 = x2·c2 + x1·s2
//   backward: dy [B, H, S, D] -> dx [B, S, H·D]; dx1 = dy1·c1 + dy2·s2, dx2 = dy2·c2 − dy1·s1
// (1 = first half of the head vector, 2 = second). cos/sin are [cos_batch, S, D] with cos_batch
// 1 (broadcast) or B.
void rotary_heads_forward(const void* x, const void* cos, const void* sin, void* y, OutType type, int64_t batch,
                          int64_t seq, int64_t heads, int64_t head_dim, int64_t cos_batch, void* stream);
void rotary_heads_backward(const void* dy, const void* cos, const void* sin, void* dx, OutType type, int64_t batch,
                           int64_t seq, int64_t heads, int64_t head_dim, int64_t cos_batch, void* stream);

}  // namespace arena::cuda
