// tanh-GeGLU's value in fp32, shared by the fused GeGLU kernel (fused_kernels.cu) and the LoRA
// kernel that recomputes it (lora_kernels.cu), so both round the same expression.
#pragma once

namespace arena::cuda {

// tanh-GELU in fp32, 0.5·x·(1 + tanh(β·(x + κ·x³))), times up, rounded once by the caller. Eager
// ATen associates κ·x³ differently and rounds gelu(x) before the product; the fused kernels agree
// with each other exactly, and with eager to a rounding.
constexpr float kGeluBeta = 0.7978845608028654f;  // sqrt(2/pi)
constexpr float kGeluKappa = 0.044715f;

// gelu_tanh(g)·u, before the rounding to the storage type.
__device__ inline float geglu_f(float g, float u) {
  const float t = tanhf(kGeluBeta * (g + kGeluKappa * g * g * g));
  return 0.5f * g * (1.0f + t) * u;
}

}  // namespace arena::cuda
