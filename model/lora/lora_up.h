// LoRA's second half added in place: y += scaling·a·Bᵀ as one GEMM that uses y as its accumulator
// (beta = 1, alpha = scaling).
//
// An out-of-place torch::addmm with a 2-D `self` first copies self into a fresh result, so
// `addmm(y, a, Bᵀ)` costs a full extra pass over the projection's output. For gate_proj at 4 × 1900
// tokens that is 140 MB read and written once more. The in-place form skips that copy.
//
// It is an autograd node that marks y dirty: y's gradient passes through unchanged, and a and B get
// scaling·g·B and scaling·gᵀ·a. y must not be needed by any earlier backward. The base projections
// (Nf4Matmul, linear) save their input and weight, never their output, so that holds there.
// Autograd's version check raises an error if it is ever broken.
#pragma once

#include <torch/types.h>

namespace arena {

// y [..., out] (contiguous, not a leaf that requires grad), a [..., r], b [out, r], all one dtype.
// Returns y after the update; differentiable in y, a and b.
torch::Tensor lora_up_add_(const torch::Tensor& y, const torch::Tensor& a, const torch::Tensor& b, double scaling);

}  // namespace arena
