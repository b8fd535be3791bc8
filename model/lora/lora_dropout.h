// LoRA's first half with its input dropout, a = dropout(x)·Aᵀ, without storing dropout(x).
//
// PEFT gives every adapted projection its own dropout of the layer input, and autograd then keeps
// each dropped copy of x (for A's gradient) plus each mask: q, k and v alone hold three copies of
// the normed hidden states. Here the mask comes from a counter-based hash of a seed drawn from the
// CPU generator (model/cuda/dropout_hash.h) and is regenerated in backward, so only x (shared by the
// projections reading it) and the seed are kept. The masks are fresh per call and replay exactly
// when the generator state is restored (recomputation, resume). They are not torch.dropout's
// masks: the same distribution, other draws.
#pragma once

#include <torch/types.h>

#include <cstdint>

namespace arena {

// y = x·(keep ? 1/(1−p) : 0) with keep from dropout_keep(seed, flat index, threshold(p)); x
// contiguous or not; any float dtype on the CPU, fp32/bf16/fp16 on CUDA (same bits on both).
torch::Tensor seeded_dropout(const torch::Tensor& x, uint64_t seed, double p);

// The seed lora_down draws per call: 64 bits from the default CPU generator.
uint64_t draw_dropout_seed();

// seeded_dropout(x, seed, p)·aᵀ, not differentiable (the building block of lora_down's forward).
// On CUDA in bf16/fp16, with the fused kernels on (model/nn/fused_ops.h), r ≤ 32 and its bit below
// set (not by default): one kernel that never writes the dropped copy of x (model/cuda/lora_kernels.h),
// the same dropped values multiplied with fp32 accumulation in another order than cuBLAS. On the CPU
// in fp32/bf16 the same in one pass over the rows (model/lora/lora_cpu_kernels.h; the switch below).
// Elsewhere the two steps. p = 0: x·aᵀ.
torch::Tensor dropout_linear(const torch::Tensor& x, const torch::Tensor& a, uint64_t seed, double p);
// Its input gradient with the add autograd would run next: seeded_dropout(g·a, seed, p) + add (add
// may be undefined), for g [..., r], a [r, in]. Fused under the same conditions (its own bit, set
// by default): one kernel that writes the result once (the GEMM output, the dropout pass and the
// add are not materialized). The CPU loop runs in fp32, and in bf16 only with an add (without one,
// the GEMM and the pass measured faster).
torch::Tensor dropout_linear_input_grad(const torch::Tensor& g, const torch::Tensor& a, uint64_t seed, double p,
                                        const torch::Tensor& add);
// Its weight gradient gᵀ·seeded_dropout(v, seed, p) [r, in] for g [..., r], where v is x [..., in],
// or geglu_value(x, up) when up is defined (the MLP's down_proj: x is the gate). Fused under the
// same conditions (its own bit, not by default): the dropped v (and the GeGLU value) are never
// written.
torch::Tensor dropout_linear_weight_grad(const torch::Tensor& g, const torch::Tensor& x, const torch::Tensor& up,
                                         uint64_t seed, double p);
// Which of these three kernels run where they can (a bit each; the other fused kernels stay). The
// default is the input-gradient kernel alone, the fastest set measured on the H100; the others are
// for benchmarks and ablations (bench_train_step --lora-dropout-kernels).
enum DropoutLinearKernels : unsigned {
  kDropoutDownKernel = 1u,         // dropout_linear
  kDropoutInputGradKernel = 2u,    // dropout_linear_input_grad
  kDropoutWeightGradKernel = 4u,   // dropout_linear_weight_grad
  kAllDropoutLinearKernels = 7u,
};
void set_dropout_linear_kernels(unsigned kernels);
unsigned dropout_linear_kernels();
// On the CPU in fp32 and bf16 the three run as the loops of model/lora/lora_cpu_kernels.h wherever
// the fused element-wise ops are on (the default); this switch (default on) turns them off alone,
// for benchmarks and ablations (bench_train_step --no-fused-lora-dropout).
void set_cpu_dropout_linear_loops(bool on);
bool cpu_dropout_linear_loops();

// dropout(x)·aᵀ for x [..., in], a [r, in]; differentiable in x and a. p = 0 or not training:
// plain x·aᵀ.
torch::Tensor lora_down(const torch::Tensor& x, const torch::Tensor& a, double p, bool training);

}  // namespace arena
