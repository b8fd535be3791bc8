// Raw CUDA launchers for the soft-capped softmax of Gemma-2 attention (no torch types, so nvcc
// never parses torch headers). All pointers are device pointers; work is queued on `stream`.
//
// Rows: the scores of query row r of group g (g = b·KV + kv: one KV head with its G query heads,
// group_rows = G·Sq rows, query position r % Sq) against Sk keys. A call handles the chunk of rows
// row0 .. row0 + chunk_rows - 1 of every group: buffers are [groups, chunk_rows, ld], lse is
// [groups, group_rows] (fp32). The additive bias is [B, 1, Sq, Sk], shared by the heads
// (bias_batch_stride: elements between two batch rows, Sq·Sk, or 0 when one bias serves all).
// Per element, in fp32:
//   t = tanh(s * scale / cap)       (cap <= 0: no soft-cap, z = s * scale + bias)
//   z = cap * t + bias
//   p = exp(z - lse),  lse = log(sum_k exp(z))
// One rounding at the end to the storage type. The S x S tensors stay in the compute dtype (bf16
// in training): no fp32 S x S tensor is ever materialized.
#pragma once

#include <cstdint>

#include "model/nf4_kernels.h"  // OutType

namespace arena::cuda {

// Longest key length the row kernels hold in registers (longer rows: use the eager path).
constexpr int64_t kSoftcapMaxKeys = 8192;

// ld: elements between two rows of the chunk buffers (>= sk; the callers pad it to a multiple
// of 8 so that the GEMMs writing and reading these buffers get 16-byte aligned rows). Columns
// sk .. ld-1 of probs and dscores are written as zeros (the GEMMs read them against zero-padded
// keys and values); those of scores and dprobs are never read.
struct SoftmaxRows {
  int64_t groups, kv_heads, group_rows, row0, chunk_rows, sq, sk, ld;
};

// probs = softmax(z) (type `type`), and lse for the chunk's rows.
void softcap_softmax_forward(const void* scores, const void* bias, int64_t bias_batch_stride, void* probs, float* lse,
                             OutType type, const SoftmaxRows& rows, float scale, float cap, void* stream);

// From the scores, lse, and dP = dO·Vᵀ of the chunk:
//   probs = p (as in the forward), dscores = p·(dP − Σ_k p·dP)·(1 − t²)·scale  (d/d raw scores).
// dscores may alias dprobs (each element is read before it is written, by the same thread).
void softcap_softmax_backward(const void* scores, const void* bias, int64_t bias_batch_stride, const float* lse,
                              const void* dprobs, void* probs, void* dscores, OutType type, const SoftmaxRows& rows,
                              float scale, float cap, void* stream);

}  // namespace arena::cuda
