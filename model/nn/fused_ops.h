// Fused versions of Gemma's RMSNorm, GeGLU and rotary embedding (CUDA: model/cuda/fused_kernels.cu;
// CPU in fp32 and bf16: model/nn/cpu_kernels.h), as autograd functions. The
// eager versions (rms_norm.cpp, mlp.cpp) chain 6 to 10 ATen kernels, each a full pass over
// [tokens, width]; these read their inputs once and write once, with all arithmetic in fp32 and
// one rounding. RMSNorm and GeGLU differ from the eager chain (transformers' order of operations)
// by the summation order and, in bf16, the roundings it skips (test_gemma_parity measures both
// against fp32); the rotary is bit-identical to it. set_fused_elementwise(false) brings the eager
// chains back.
#pragma once

#include <torch/types.h>

#include <tuple>
#include <utility>

namespace arena {

// Process-wide switch (default on). For benchmarks and tests.
void set_fused_elementwise(bool on);
bool fused_elementwise();
// Whether the fused kernels run for x: switch on, and x on CUDA in fp32/bf16/fp16 or on the CPU
// in fp32/bf16.
bool use_fused_elementwise(const torch::Tensor& x);

// Gemma RMSNorm y = x̂·(1 + w), x̂ = x·rsqrt(mean(x²) + eps) over the last dim; w has x's dtype.
// Differentiable in x and w.
torch::Tensor rms_norm_fused(const torch::Tensor& x, const torch::Tensor& weight, double eps);

// gelu_tanh(gate)·up, same shapes and dtype. Differentiable in both.
torch::Tensor geglu_fused(const torch::Tensor& gate, const torch::Tensor& up);

// Rotary embedding fused with the split into heads: y [B, S, H·D] (a projection's output) ->
// [B, H, S, D] contiguous, bit-identical to apply_rotary(y.view({B, S, H, D}).transpose(1, 2), cos,
// sin) (model/nn/rotary.h), forward and backward, in one kernel each way instead of the eager chain's
// ten and two layout copies. cos/sin [1 or B, S, D] in y's dtype. Differentiable in y.
torch::Tensor rotary_heads_fused(const torch::Tensor& y, const torch::Tensor& cos, const torch::Tensor& sin,
                                 int64_t heads);

// GeGLU outside autograd, for functions that keep gate and up and recompute the rest: the fused
// kernel where use_fused_elementwise(gate), else ATen's gelu(tanh)·up. geglu_grads returns
// (d_gate, d_up) for d_out: the fused kernel's (what geglu_fused's backward returns), else the
// same ops autograd runs on the eager expression (bit-identical gradients to it).
torch::Tensor geglu_value(const torch::Tensor& gate, const torch::Tensor& up);
std::pair<torch::Tensor, torch::Tensor> geglu_grads(const torch::Tensor& gate, const torch::Tensor& up,
                                                    const torch::Tensor& d_out);
// (d_gate, d_up, geglu_value(gate, up)): on the CPU's fused loops one pass with one tanh per
// element; elsewhere geglu_grads and geglu_value. The same bits either way.
std::tuple<torch::Tensor, torch::Tensor, torch::Tensor> geglu_grads_and_value(const torch::Tensor& gate,
                                                                              const torch::Tensor& up,
                                                                              const torch::Tensor& d_out);

}  // namespace arena
