// The MLP's GeGLU and the first half of down_proj's LoRA in one autograd node:
//   act = gelu_tanh(gate)·up,  a = dropout(act)·Aᵀ
// Separately, autograd would keep act (9216 wide, the MLP's largest activation) for A's gradient;
// this node keeps only gate and up, which GeGLU's own backward needs anyway, and recomputes act
// in backward. Values are the same bits as the separate path (same kernels, same seeded mask);
// gradients equal it up to the order of one sum of two terms.
#pragma once

#include <torch/types.h>

#include <utility>

namespace arena {

// (act, a) for gate/up [..., n] and a_weight [r, n] (A in the compute dtype); dropout p applies
// in training only, drawing its seed like lora_down. Differentiable in gate, up and a_weight.
std::pair<torch::Tensor, torch::Tensor> geglu_lora_down(const torch::Tensor& gate, const torch::Tensor& up,
                                                        const torch::Tensor& a_weight, double p, bool training);

// Process-wide switch (default on) between this node and the separate ops; for tests and the
// benchmark's ablation.
void set_geglu_lora_down_fusion(bool on);
bool geglu_lora_down_fusion();

}  // namespace arena
