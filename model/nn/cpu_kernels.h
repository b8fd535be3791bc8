// Fused CPU loops for Gemma's element-wise ops: the CPU counterpart of model/cuda/fused_kernels.h,
// with the same formulas (fp32 arithmetic, one rounding to the storage type). ATen's eager chains
// make a full pass over [tokens, width] per op (RMSNorm: about ten forward and more in backward;
// tanh-GeGLU: four, and its backward recomputes gelu twice); these read each input once and write
// each output once, in loops the compiler vectorizes (an AVX-512 clone where the CPU has it, picked
// at load time; both clones give the same bits: no contracted multiply-adds in this file).
//
// Serial over the range given: the callers (model/nn/fused_ops.cpp) split rows or elements across
// ATen's intra-op threads. T is float or c10::BFloat16; no torch types otherwise.
#pragma once

#include <cstdint>

namespace arena::cpu {

// Gemma RMSNorm over `rows` rows of n: y = (x·r)·(1 + w), r = 1/sqrt(mean(x²) + eps), stored in
// rstd per row (fp32). x, w and y share T.
template <typename T>
void rms_norm_forward(const T* x, const T* w, T* y, float* rstd, int64_t rows, int64_t n, float eps);
// dx = r·(dy·g − x̂·mean(dy·g·x̂)), x̂ = x·r, g = 1 + w (no gradient for w: it is frozen here).
template <typename T>
void rms_norm_backward(const T* x, const T* w, const float* rstd, const T* dy, T* dx, int64_t rows, int64_t n);

// tanh-GeGLU over n elements: out = gelu_tanh(gate)·up.
template <typename T>
void geglu_forward(const T* gate, const T* up, T* out, int64_t n);
// d_gate = d_out·up·gelu'(gate), d_up = d_out·gelu(gate); `value` (may be null) also receives
// gelu_tanh(gate)·up, the forward's output, from the same tanh.
template <typename T>
void geglu_backward(const T* gate, const T* up, const T* d_out, T* d_gate, T* d_up, T* value, int64_t n);

// Rotary embedding (rotate-half) fused with the split into heads, as model/cuda/fused_kernels.h's
// rotary_heads_* and bit-identical to the eager chain (each product rounded to T, then the sum):
// forward x [B, S, H·D] -> y [B, H, S, D], backward dy [B, H, S, D] -> dx [B, S, H·D], for the tokens
// t = b·S + s in [token_begin, token_end). cos/sin [cos_batch, S, D], cos_batch 1 (broadcast) or B.
template <typename T>
void rotary_heads_forward(const T* x, const T* cos, const T* sin, T* y, int64_t batch, int64_t seq, int64_t heads,
                          int64_t head_dim, int64_t cos_batch, int64_t token_begin, int64_t token_end);
template <typename T>
void rotary_heads_backward(const T* dy, const T* cos, const T* sin, T* dx, int64_t batch, int64_t seq,
                           int64_t heads, int64_t head_dim, int64_t cos_batch, int64_t token_begin,
                           int64_t token_end);

// The seeded dropout of model/lora/lora_dropout.h over n elements whose first has flat index
// `first`: y[i] = keep ? x[i]·scale : 0, keep = dropout bits (model/cuda/dropout_hash.h) ≥
// threshold; one hash per element pair, drawn a block at a time.
template <typename T>
void seeded_dropout(const T* x, T* y, uint64_t first, int64_t n, uint64_t seed, uint32_t threshold, float scale);

// The fp32 tanh these loops use (through a polynomial expm1; within 2.5 ulp of the exact tanh), for
// tests.
float tanh_approx(float x);

}  // namespace arena::cpu
