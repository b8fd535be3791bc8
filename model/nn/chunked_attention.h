// The Gemma attention core on the CPU without [S×S] tensors: the eager math (eager_softcap_attention,
// softcap_attention.h) run one chunk of query positions at a time (plan_cpu_attention_chunks), each
// chunk against only the keys its causal and sliding mask lets it see. Forward keeps nothing but its
// inputs; backward recomputes each chunk's scores and probabilities (one more q·kᵀ GEMM) instead
// of the eager graph keeping its [B, H, S, S] probabilities (and tanh output) per layer.
//
// Numerics: the same steps as the eager chain in the same dtype (scale, /cap, tanh, ·cap, +bias,
// softmax in fp32 or fp64, ·v); keys a chunk skips would have had probability exactly 0. The key
// gradients are summed over the chunks in fp32 for 16-bit inputs, in the input's dtype otherwise.
// A query row that may see no key at all (a pad row of a left-padded batch) averages the values of
// its chunk's keys where the eager path averages all S; such rows never reach the loss (see
// softcap_attention.h), and their gradients are zero either way.
#pragma once

#include <torch/types.h>

namespace arena {

// q [B, H, S, D], k and v [B, KV, S, D] (any strides; query head h reads KV head h / (H/KV)),
// bias [B|1, 1, S, S] additive and causal as attention_bias(mask, window) builds it; window > 0:
// the bias also hides keys more than window - 1 positions back (0: a full layer). cap <= 0: no
// soft-cap. Returns [B, S, H, D] (contiguous) in q's dtype. Differentiable in q, k and v; any device,
// though it is meant for the CPU (CUDA has the fused kernels).
torch::Tensor chunked_softcap_attention(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                                        const torch::Tensor& bias, double scale, double cap, int64_t window);

}  // namespace arena
