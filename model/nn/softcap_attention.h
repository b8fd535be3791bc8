// The core of Gemma-2 attention, softmax(cap·tanh(q·kᵀ·scale/cap) + bias)·v, fused on CUDA:
// cuBLAS batched GEMMs for q·kᵀ and p·v (GQA by reshaping, no expanded k/v copies) around one
// row kernel per direction (model/cuda/attention_kernels.cu) that applies scale, soft-cap, mask and
// softmax in fp32 registers; or (AttentionKernel::kFlash) flash-style kernels that keep one key
// tile of scores at a time in registers (model/cuda/flash_forward.cuh, flash_backward.cuh). The
// fused core's S×S tensors exist only in the compute dtype: no fp32 scores or probabilities are
// materialized, and backward keeps the raw scores plus one fp32 log-sum-exp per row instead of
// the eager path's chain of intermediates.
//
// Numerics: the eager reference rounds after every step (scale, /cap, tanh, ·cap, +bias) in the
// compute dtype and takes the softmax in fp32; the fused kernel rounds once. In bf16 both are
// within bf16 rounding of the exact value. The CPU runs the eager steps chunk by chunk instead
// (model/nn/chunked_attention.h).
#pragma once

#include <torch/types.h>

namespace arena {

enum class AttentionKernel {
  kAuto,   // CUDA: fused when the build has the kernels and keys <= 8192, eager otherwise;
           // CPU: chunked in fp32, fp64 and bf16 (model/nn/chunked_attention.h), eager in fp16
  kEager,  // always the reference math (eager_softcap_attention)
  kFused,  // the same as kAuto
  kFlash,  // CUDA, bf16, head dim 64/128/256, sm_80+: flash-style kernels, forward and backward
           // (model/cuda/flash_forward.cuh, flash_backward.cuh: no S×S buffer); otherwise kAuto.
           // Not yet the default: the kernels have run on the CPU emulation only.
};

// Process-wide choice of the attention core (default kAuto). For benchmarks and tests.
void set_attention_kernel(AttentionKernel kernel);
AttentionKernel attention_kernel();

// The reference math on any device, the eager chain transformers runs (eager attention):
// cap·tanh(q·kᵀ·scale/cap) + bias rounded step by step in q's dtype, softmax in fp32, then ·v.
// Same arguments as softcap_attention, but any number of queries against the keys: q [B, H, Sq, D],
// bias [B|1, 1, Sq, S] (no causal layout assumed); returns [B, Sq, H, D] (contiguous).
torch::Tensor eager_softcap_attention(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                                      const torch::Tensor& bias, double scale, double cap);

// Whether the fused core runs for this query tensor and key length under the current choice.
bool use_fused_attention(const torch::Tensor& q, int64_t keys);

// Whether the chunked core (model/nn/chunked_attention.h) runs for q under the current choice: on
// the CPU in fp32, fp64 and bf16 unless kEager is chosen. kEager reproduces transformers' bf16
// roundings op for op (the bf16 parity fixtures compare with it); the chunked core is as accurate
// (test_chunked_attention) and sums in another order.
bool use_chunked_attention(const torch::Tensor& q);

// q [B, H, S, D], k and v [B, KV, S, D] (query head h reads KV head h / (H/KV)), bias [B|1, 1, S, S]
// additive and causal, as attention_bias() builds it: every key after its query is masked, so
// each chunk of queries reads only the keys up to its last position (attention_chunks.h). cap <= 0
// disables the soft-cap. Returns [B, S, H, D] in q's dtype: the layout o_proj reads.
// A query row that may see no key at all (a pad row of a left-padded batch, all its bias at the
// lowest value) averages the values of the keys its chunk reads where the eager path averages all
// S, and its backward is not the eager one either (its log-sum-exp rounds to the bias itself).
// Such rows never reach the loss: their output gradient is zero, and so is what they pass back.
// Differentiable in q, k, v. CUDA only (throws elsewhere).
torch::Tensor softcap_attention(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                                const torch::Tensor& bias, double scale, double cap);

}  // namespace arena
