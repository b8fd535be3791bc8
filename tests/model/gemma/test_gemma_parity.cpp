// Parity of the C++ Gemma classifier with transformers' Gemma2ForSequenceClassification and
// Gemma3TextForSequenceClassification. Fixtures: tests/fixtures/gen_gemma2_fixtures.py and
// gen_gemma3_fixtures.py (tiny random configs, see their docstrings).
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <algorithm>
#include <iostream>
#include <map>
#include <string>

#include "model/gemma/classifier.h"
#include "model/gemma/hf_names.h"
#include "model/io/loader.h"
#include "model/io/safetensors.h"
#include "model/nn/fused_ops.h"
#include "model/nn/softcap_attention.h"
#include "model/gemma/parity_support.h"
#include "test_support.h"

namespace arena {
namespace {

using testing::bf16_bound;
using testing::kF32Tolerance;
using testing::Reference;
using testing::rel_error;
using testing::run_model;

// transformers' eager chains for one scope: the element-wise ops and the attention core (the fused
// loops and the chunked core are the CPU's defaults).
struct EagerChains {
  EagerChains() {
    set_fused_elementwise(false);
    set_attention_kernel(AttentionKernel::kEager);
  }
  ~EagerChains() {
    set_fused_elementwise(true);
    set_attention_kernel(AttentionKernel::kAuto);
  }
};

class GemmaParity : public ::testing::TestWithParam<std::string> {
 protected:
  std::string case_dir() const { return (testing::fixture_dir() / GetParam()).string(); }
  Reference reference() const { return {SafetensorsFile::open(case_dir() + "/reference.safetensors")}; }
  GemmaClassifier load(torch::ScalarType dtype) const {
    return load_gemma_classifier(case_dir() + "/model", dtype, torch::kCPU);
  }
};

TEST_P(GemmaParity, Float32LogitsLossAndGradientsMatch) {
  const auto ref = reference();
  auto model = load(torch::kFloat32);
  const auto r = run_model(*model, ref);
  EXPECT_LE(rel_error(r.logits, ref.get("logits.f32")), kF32Tolerance)
      << "ours " << r.logits << "\nref " << ref.get("logits.f32");
  EXPECT_LE(rel_error(r.loss, ref.get("loss.f32")), kF32Tolerance);
  ASSERT_FALSE(r.grads.empty());
  double worst = 0;
  std::string worst_name;
  for (const auto& [name, g] : r.grads) {
    const double e = rel_error(g, ref.get("grad.f32." + name));
    EXPECT_LE(e, kF32Tolerance) << name;
    if (e >= worst) worst = e, worst_name = name;
  }
  std::cout << GetParam() << " f32: logits rel err " << rel_error(r.logits, ref.get("logits.f32")) << ", loss "
            << rel_error(r.loss, ref.get("loss.f32")) << ", worst grad " << worst << " (" << worst_name << ")\n";
}

// transformers' order of operations (the eager chains): within its own bf16 rounding noise of it.
TEST_P(GemmaParity, BFloat16WithinReferenceRoundingNoise) {
  const EagerChains eager;
  const auto ref = reference();
  auto model = load(torch::kBFloat16);
  const auto r = run_model(*model, ref);
  double worst_ratio = 0;
  const auto check = [&](const torch::Tensor& ours, const std::string& key, const std::string& f32_key) {
    const auto hf_bf16 = ref.get(key);
    const auto hf_f32 = ref.get(f32_key);
    const double err = rel_error(ours, hf_bf16);
    const double bound = bf16_bound(hf_bf16, hf_f32);
    EXPECT_LE(err, bound) << key << ": ours vs transformers bf16 " << err << ", bound " << bound;
    if (key.rfind("grad", 0) != 0) std::cout << GetParam() << " " << key << ": err " << err << " bound " << bound << "\n";
    worst_ratio = std::max(worst_ratio, err / bound);
  };
  check(r.logits, "logits.bf16", "logits.f32");
  check(r.loss, "loss.bf16", "loss.f32");
  for (const auto& [name, g] : r.grads) check(g, "grad.bf16." + name, "grad.f32." + name);
  std::cout << GetParam() << " bf16: worst err/bound over logits, loss and all grads " << worst_ratio << "\n";
}

// The CPU's defaults in bf16, the fused RMSNorm, GeGLU and rotary loops (model/nn/cpu_kernels.h;
// the fp32 test above runs them too) and the chunked attention core, round once where the eager
// chains round at every op, or sum in another order, so they land at another point of the same
// noise, and a fixture's few values cannot tell which is closer. So: a
// batch 40 times the fixture's (8 × 48 tokens, left padding on half the rows), measured from our
// fp32 (transformers' fp32 to 1e-4, above). Over the logits and every gradient, the mean per-tensor
// error of the fused bf16 must stay within 1.1× the eager chains' (measured: 0.95-1.03×), and each
// tensor within twice the eager error plus one bf16 ulp.
TEST_P(GemmaParity, BFloat16FusedKernelsNoLessAccurateThanEagerChains) {
  const auto ref = reference();
  const int64_t vocab = ref.get("input_ids").max().item<int64_t>() + 1;
  torch::manual_seed(7);
  const auto ids = torch::randint(1, vocab, {8, 48}, torch::kInt64);
  auto mask = torch::ones({8, 48}, torch::kInt64);
  mask.index_put_({torch::indexing::Slice(0, 4), torch::indexing::Slice(0, 9)}, 0);  // left padding
  const auto labels = torch::randint(0, 2, {8}, torch::kInt64);
  const auto run = [&](torch::ScalarType dtype) {
    auto model = load(dtype);
    const auto logits = model->forward(ids, mask);
    classification_loss(logits, labels).backward();
    std::map<std::string, torch::Tensor> out{{"logits", logits.detach().to(torch::kFloat32)}};
    for (const auto& e : hf_parameter_table(*model))
      if (e.param.grad().defined()) out[e.hf_name] = e.param.grad().to(torch::kFloat32);
    return out;
  };
  const auto truth = run(torch::kFloat32);
  std::map<std::string, torch::Tensor> eager_out;
  {
    const EagerChains eager;
    eager_out = run(torch::kBFloat16);
  }
  const auto fused_out = run(torch::kBFloat16);
  double sum_eager = 0, sum_fused = 0;
  for (const auto& [name, t] : truth) {
    const double e = rel_error(eager_out.at(name), t), f = rel_error(fused_out.at(name), t);
    EXPECT_LE(f, 2 * e + testing::kBf16Ulp) << name << ": fused " << f << ", eager " << e;
    sum_eager += e, sum_fused += f;
  }
  std::cout << GetParam() << " bf16 vs our fp32, mean over " << truth.size() << " tensors: eager "
            << sum_eager / truth.size() << ", fused " << sum_fused / truth.size() << "\n";
  EXPECT_LE(sum_fused, 1.1 * sum_eager);
}

TEST_P(GemmaParity, RecomputationGivesIdenticalGradients) {
  const auto ref = reference();
  auto model = load(torch::kFloat32);
  const auto plain = run_model(*model, ref);
  model->model->set_recompute(true);
  const auto recomputed = run_model(*model, ref);
  // Same kernels on the same inputs in the same order: bit-identical on CPU.
  EXPECT_TRUE(torch::equal(plain.logits, recomputed.logits));
  EXPECT_TRUE(torch::equal(plain.loss, recomputed.loss));
  for (const auto& [name, g] : plain.grads) EXPECT_TRUE(torch::equal(g, recomputed.grads.at(name))) << name;
}

TEST_P(GemmaParity, RecomputationReachesLayersWhenInputsAreFrozen) {
  // Only layer parameters and the head train (the LoRA situation): nothing upstream of the first
  // layer requires grad, yet its parameters must still get gradients through the recompute node.
  const auto ref = reference();
  auto model = load(torch::kFloat32);
  model->model->embed_tokens->weight.set_requires_grad(false);
  const auto plain = run_model(*model, ref);
  model->model->set_recompute(true);
  const auto recomputed = run_model(*model, ref);
  const std::string first_q = "model.layers.0.self_attn.q_proj.weight";
  ASSERT_TRUE(recomputed.grads.at(first_q).defined());
  EXPECT_GT(recomputed.grads.at(first_q).abs().max().item<double>(), 0.0);
  EXPECT_TRUE(torch::equal(plain.grads.at(first_q), recomputed.grads.at(first_q)));
}

// Parameter: <family>/<case> under tests/fixtures. The test name carries the case.
INSTANTIATE_TEST_SUITE_P(Fixtures, GemmaParity,
                         ::testing::Values("gemma2/gqa2l", "gemma2/gqa4l", "gemma3/g3_4l", "gemma3/g3_scaled"),
                         [](const auto& info) { return info.param.substr(info.param.find('/') + 1); });

TEST(Pooling, LastNonPadTokenForLeftAndRightPadding) {
  const auto ids = torch::tensor({5, 6, 7, 0, 0, /**/ 0, 0, 5, 6, 7, /**/ 5, 6, 7, 8, 9, /**/ 0, 0, 0, 0, 0},
                                 torch::kInt64)
                       .view({4, 5});
  const auto last = last_token_index(ids, /*pad_id=*/0);
  EXPECT_TRUE(torch::equal(last, torch::tensor({2, 4, 4, 0}, torch::kInt64)));
}

}  // namespace
}  // namespace arena
