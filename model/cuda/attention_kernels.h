// Raw CUDA launchers for the soft-capped softmax of Gemma-2 attention (no torch types, so nvcc
// never parses torch headers). All pointers are device pointers; work is queued on `stream`.
//
// Rows: one batch g = b·KV + kv of the [B·KV, S·G, D] query layout holds one KV head with its G
// query heads, position-major: row r is query head kv·G + r % G at position r / G (group_rows =
// S·G rows). A call handles the chunk of rows row0 .. row0 + chunk_rows - 1 of every batch against
// its first `keys` keys: buffers are [batches, chunk_rows, ld], lse is [batches, group_rows] (fp32).
// The additive bias is [B, 1, S, S] with row stride bias_ld, shared by the heads
// (bias_batch_stride: elements between two batch rows, or 0 when one bias serves all). Keys
// from `keys` on are left out: the caller passes only chunks whose rows a causal bias keeps from
// seeing them.
// Per element, in fp32:
//   t = tanh(s * scale / cap)       (cap <= 0: no soft-cap, z = s * scale + bias)
//   z = cap * t + bias
//   p = exp(z - lse),  lse = log(sum_k exp(z))
// One rounding at the end to the storage type. The S x S tensors stay in the compute dtype (bf16
// in training): no fp32 S x S tensor is ever materialized.
#pragma once

#include <cstdint>

#include "model/cuda/nf4_kernels.h"  // OutType

namespace arena::cuda {

// Longest key length the row kernels hold in registers (longer rows: use the eager path).
constexpr int64_t kSoftcapMaxKeys = 8192;

// Alignment: the kernels move 16 bytes per access, so every row they read or write starts on a
// 16-byte boundary: ld and bias_ld are multiples of 8 elements, the base pointers 16-byte aligned,
// and each bias row holds at least ld elements (columns from `keys` on are read, never used).
// ld: elements between two rows of the chunk buffers (>= keys; a multiple of 8 also gives the
// GEMMs writing and reading these buffers aligned rows). Columns
// keys .. ld-1 of probs and dscores are written as zeros (the GEMMs read them against zero keys
// and values, or keys no row of the chunk may see); those of scores and dprobs are never read.
struct SoftmaxRows {
  int64_t batches;       // B·KV
  int64_t kv_heads;      // KV
  int64_t heads_per_kv;  // G
  int64_t group_rows;    // S·G
  int64_t row0, chunk_rows;
  int64_t keys;          // keys seen by this chunk (<= S)
  int64_t bias_ld;       // elements between two bias rows (>= padded S)
  int64_t ld;
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
