// LoRA's down-projection with its seeded input dropout (model/lora/lora_dropout.h) as single passes
// over the rows: the CPU counterpart of model/cuda/lora_kernels.h. ATen's chain writes the dropped
// copy of the input (forward, and again for A's gradient) and, for the input gradient, the [tokens,
// in] product, its dropped copy and the sum with the gradient it joins: four or five passes over
// [tokens, in] per projection and direction. These loops draw each mask bit once per pass, keep the
// dropped values in a block buffer and never write them out.
//
// The values equal the chain's: each dropped element is v·scale rounded to the storage type T
// (seeded_dropout's bits), sums are in fp32 (in another order than the BLAS), results rounded to T.
// Serial over the rows given; the callers (model/lora/lora_dropout.cpp) split rows across ATen's
// threads. T is float or c10::BFloat16. Compiled with -ffp-contract=off: both clones (AVX-512 and
// baseline) give the same bits.
#pragma once

#include <cstdint>

namespace arena::cpu {

// The mask: element (t, i) of a [rows, in] tensor is kept when dropout_bits(seed, t·in + i) ≥
// threshold, and then scaled by `scale` = 1/(1−p).
struct DropoutMask {
  uint64_t seed;
  uint32_t threshold;
  float scale;
};

// out[t, j] = Σ_i drop(x[t, i])·a[j, i] for rows t in [row0, row1); x [rows, in] and out [rows, r]
// in T, a [r, in] in fp32.
template <typename T>
void lora_dropout_down(const T* x, const float* a, T* out, int64_t row0, int64_t row1, int64_t in, int64_t r,
                       DropoutMask mask);

// dx[t, i] = add[t, i] + drop(Σ_j g[t, j]·a[j, i]) for rows [row0, row1), with the chain's three
// roundings (the product, the dropped value, the sum); add may be null. g [rows, r], add and dx
// [rows, in] in T, a [r, in] in fp32.
template <typename T>
void lora_dropout_input_grad(const T* g, const float* a, const T* add, T* dx, int64_t row0, int64_t row1,
                             int64_t in, int64_t r, DropoutMask mask);

// acc[j, i] += Σ_t g[t, j]·drop(x[t, i]) over rows [row0, row1), in row order; acc [r, in] fp32,
// g [rows, r] and x [rows, in] in T.
template <typename T>
void lora_dropout_weight_grad(const T* g, const T* x, float* acc, int64_t row0, int64_t row1, int64_t in, int64_t r,
                              DropoutMask mask);

}  // namespace arena::cpu
