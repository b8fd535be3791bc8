// Shared by the Gemma parity tests on the CPU (test_gemma_parity.cpp) and on CUDA
// (test_gemma_parity_cuda.cpp): the reference file, the error measure, one forward + backward,
// and the tolerances with their reasons.
#pragma once

#include <torch/torch.h>

#include <algorithm>
#include <map>
#include <memory>
#include <string>

#include "model/gemma/classifier.h"
#include "model/gemma/hf_names.h"
#include "model/io/safetensors.h"

namespace arena {
namespace testing {

// fp32: same math in the same precision; only summation order differs (matmul blocking),
// which moves results by a few fp32 ulps through 4 layers. 1e-4 is the bound.
constexpr double kF32Tolerance = 1e-4;
// bf16 keeps 8 mantissa bits: one rounding is a relative error of 2^-8 = 3.9e-3.
constexpr double kBf16Ulp = 1.0 / 256.0;

struct Reference {
  std::shared_ptr<SafetensorsFile> file;
  torch::Tensor get(const std::string& name) const { return file->tensor(name).clone(); }
};

// max |a - b| relative to the largest magnitude of the reference tensor.
inline double rel_error(const torch::Tensor& a, const torch::Tensor& ref) {
  const double scale = std::max(ref.abs().max().item<double>(), 1e-30);
  return (a.to(torch::kFloat64) - ref.to(torch::kFloat64)).abs().max().item<double>() / scale;
}

struct RunResult {
  torch::Tensor logits, loss;
  std::map<std::string, torch::Tensor> grads;
};

// One forward + backward of the fixture batch on the model's device; results in fp32 on the CPU.
inline RunResult run_model(GemmaClassifierImpl& model, const Reference& ref) {
  model.zero_grad();
  const auto device = model.score->weight.device();
  const auto logits = model.forward(ref.get("input_ids").to(device), ref.get("attention_mask").to(device));
  const auto loss = classification_loss(logits, ref.get("labels").to(device));
  loss.backward();
  const auto host = [](const torch::Tensor& t) { return t.detach().to(torch::kCPU, torch::kFloat32); };
  RunResult r{host(logits), host(loss), {}};
  for (const auto& e : hf_parameter_table(model))
    if (e.param.grad().defined()) r.grads[e.hf_name] = host(e.param.grad());
  return r;
}

// Tolerance for bf16, derived per tensor from the reference itself: our bf16 result may differ
// from transformers' bf16 result by at most the distance of transformers' bf16 from its own fp32
// result (its rounding noise), twice (both sides carry that noise), plus one bf16 rounding.
inline double bf16_bound(const torch::Tensor& ref_bf16, const torch::Tensor& ref_f32) {
  return 2.0 * rel_error(ref_bf16, ref_f32) + kBf16Ulp;
}

}  // namespace testing
}  // namespace arena
