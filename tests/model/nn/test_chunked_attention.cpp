// The chunked attention core (model/nn/chunked_attention.h) against the eager chain
// (eager_softcap_attention): outputs and q/k/v gradients in float64 and float32, with GQA, the
// soft-cap, padding, several unequal chunks and a sliding window that lets chunks skip keys; and
// the whole classifier on the CPU with the chunked core against the eager one.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

#include "model/gemma/classifier.h"
#include "model/gemma/config.h"
#include "model/nn/attention_chunks.h"
#include "model/nn/attention_mask.h"
#include "model/nn/chunked_attention.h"
#include "model/nn/softcap_attention.h"

namespace arena {
namespace {

double rel(const torch::Tensor& a, const torch::Tensor& ref) {
  const auto d = a.to(torch::kFloat64) - ref.to(torch::kFloat64);
  return (d.norm() / ref.to(torch::kFloat64).norm()).item<double>();
}

struct Case {
  int64_t b = 2, h = 4, kv = 2, s = 600, d = 32, window = 0;
  double cap = 50.0;
  bool left_pad = false;  // row 1 left-padded (pad queries see no key) instead of right-padded
  torch::ScalarType dtype = torch::kFloat64;
};

struct Run {
  torch::Tensor out, dq, dk, dv;
};

// Both cores on the same inputs and output gradient. The output gradient is zero on pad rows, as
// in training (pad rows never reach the loss), and their outputs are zeroed before comparing: a pad
// query may see no key at all (left padding, or right padding under a window), and then its
// output is arbitrary in both cores (chunked_attention.h).
std::pair<Run, Run> run_both(const Case& c) {
  torch::manual_seed(3);
  // Drawn in fp64 and rounded, so that every dtype of a case sees the same values.
  const auto draw = [&](std::vector<int64_t> shape) { return torch::randn(shape, torch::kFloat64).to(c.dtype); };
  const auto q0 = draw({c.b, c.h, c.s, c.d});
  const auto k0 = draw({c.b, c.kv, c.s, c.d});
  const auto v0 = draw({c.b, c.kv, c.s, c.d});
  auto mask = torch::ones({c.b, c.s}, torch::kInt64);
  const int64_t pad = c.s / 3;
  mask[1].narrow(0, c.left_pad ? 0 : c.s - pad, pad).zero_();
  auto go = draw({c.b, c.s, c.h, c.d});
  go.mul_(mask.to(c.dtype).view({c.b, c.s, 1, 1}));
  const auto bias = attention_bias(mask, c.window, c.dtype);
  const double scale = 1.0 / std::sqrt(static_cast<double>(c.d));
  const auto run = [&](bool chunked) {
    auto q = q0.clone().requires_grad_(true);
    auto k = k0.clone().requires_grad_(true);
    // v as the model passes it: a transposed view of v_proj's [B, S, KV·D] output.
    auto v_rows = v0.transpose(1, 2).contiguous().requires_grad_(true);
    const auto v = v_rows.transpose(1, 2);
    const auto out = chunked ? chunked_softcap_attention(q, k, v, bias, scale, c.cap, c.window)
                             : eager_softcap_attention(q, k, v, bias, scale, c.cap);
    out.backward(go);
    const auto real_rows = mask.to(c.dtype).view({c.b, c.s, 1, 1});
    return Run{out.detach() * real_rows, q.grad(), k.grad(), v_rows.grad().transpose(1, 2)};
  };
  return {run(true), run(false)};
}

void expect_close(const Case& c, double tol) {
  const auto [got, ref] = run_both(c);
  EXPECT_LT(rel(got.out, ref.out), tol);
  EXPECT_LT(rel(got.dq, ref.dq), tol);
  EXPECT_LT(rel(got.dk, ref.dk), tol);
  EXPECT_LT(rel(got.dv, ref.dv), tol);
}

TEST(ChunkedAttention, TheTestShapesRunInSeveralUnequalChunks) {
  // The cases below only test chunk borders and skipped keys if their shapes have them: 600
  // positions of fp64 at B=2, H=4 with a window of 100 (and the classifier's 600 at B=3).
  for (const int64_t batch : {2, 3}) {
    const auto chunks = plan_cpu_attention_chunks(batch, 4, 600, 8, 100);
    ASSERT_GE(chunks.size(), 3u);
    EXPECT_NE(chunks.front().positions(), chunks.back().positions());
    EXPECT_GT(chunks.back().key_begin, 0);
  }
}

TEST(ChunkedAttention, Float64MatchesEagerWithSoftcapAndGqa) { expect_close(Case{}, 1e-13); }

TEST(ChunkedAttention, Float64MatchesEagerWithSlidingWindow) {
  Case c;
  c.window = 100;
  expect_close(c, 1e-13);
}

TEST(ChunkedAttention, Float64MatchesEagerWithoutSoftcapOrGqa) {
  Case c;
  c.cap = 0;
  c.kv = 4;
  c.window = 256;
  expect_close(c, 1e-13);
}

TEST(ChunkedAttention, Float32MatchesEagerGemma3Shape) {
  // Gemma-3-270M's heads: 4 query heads on 1 KV head of 256, no cap, window 512 on sliding layers.
  Case c;
  c.dtype = torch::kFloat32;
  c.h = 4;
  c.kv = 1;
  c.d = 256;
  c.s = 700;
  c.cap = 0;
  c.window = 512;
  expect_close(c, 2e-6);
}

TEST(ChunkedAttention, Float64MatchesEagerWithLeftPadding) {
  Case c;
  c.left_pad = true;
  c.window = 100;
  expect_close(c, 1e-13);
}

TEST(ChunkedAttention, Bfloat16IsAsCloseToFloat64AsTheEagerPath) {
  Case c;
  c.dtype = torch::kBFloat16;
  c.window = 100;
  const auto [got, eager] = run_both(c);
  Case r = c;
  r.dtype = torch::kFloat64;
  const auto [exact, unused] = run_both(r);
  (void)unused;
  const auto pairs = {std::pair{got.out, eager.out}, std::pair{got.dq, eager.dq}, std::pair{got.dk, eager.dk},
                      std::pair{got.dv, eager.dv}};
  const auto exact_list = {exact.out, exact.dq, exact.dk, exact.dv};
  auto e = exact_list.begin();
  for (const auto& [g, ea] : pairs) {
    const double chunked_err = rel(g, *e), eager_err = rel(ea, *e);
    EXPECT_LT(chunked_err, 1.05 * eager_err) << "chunked " << chunked_err << ", eager " << eager_err;
    ++e;
  }
}

TEST(ChunkedAttention, RejectsMismatchedShapes) {
  const auto q = torch::randn({1, 4, 8, 16});
  const auto k = torch::randn({1, 3, 8, 16});
  const auto bias = torch::zeros({1, 1, 8, 8});
  EXPECT_THROW(chunked_softcap_attention(q, k, k, bias, 0.25, 0, 0), std::exception);
}

// The whole classifier (a tiny Gemma-2 with sliding and full layers) on the CPU: the chunked core
// gives the eager core's logits and gradients.
TEST(ChunkedAttention, ClassifierMatchesEagerOnTheCpu) {
  GemmaConfig config;
  config.vocab_size = 128;
  config.hidden_size = 64;
  config.intermediate_size = 128;
  config.num_hidden_layers = 2;
  config.num_attention_heads = 4;
  config.num_key_value_heads = 2;
  config.head_dim = 16;
  config.query_pre_attn_scalar = 16;
  config.sliding_layers = {true, false};
  config.sliding_window = 100;  // 144-position chunks at this shape: the sliding layer's skip keys
  config.num_labels = 3;
  torch::manual_seed(0);
  GemmaClassifier model(config, torch::TensorOptions().dtype(torch::kFloat64));
  const int64_t b = 3, s = 600;
  const auto ids = torch::randint(1, config.vocab_size, {b, s}, torch::kInt64);
  auto mask = torch::ones({b, s}, torch::kInt64);
  mask[1].narrow(0, 0, 170).zero_();  // left padding, as the trainer pads
  const auto labels = torch::tensor({0, 2, 1}, torch::kInt64);
  const auto run = [&](AttentionKernel kernel) {
    set_attention_kernel(kernel);
    model->zero_grad();
    const auto logits = model->forward(ids, mask);
    torch::nn::functional::cross_entropy(logits, labels).backward();
    std::vector<torch::Tensor> grads;
    for (const auto& p : model->parameters()) {
      if (p.grad().defined()) grads.push_back(p.grad().clone());
    }
    return std::pair{logits.detach(), grads};
  };
  const auto [logits, grads] = run(AttentionKernel::kAuto);
  const auto [ref_logits, ref_grads] = run(AttentionKernel::kEager);
  set_attention_kernel(AttentionKernel::kAuto);
  EXPECT_LT(rel(logits, ref_logits), 1e-12);
  ASSERT_EQ(grads.size(), ref_grads.size());
  ASSERT_FALSE(grads.empty());
  for (size_t i = 0; i < grads.size(); ++i) EXPECT_LT(rel(grads[i], ref_grads[i]), 1e-11) << "parameter " << i;
}

}  // namespace
}  // namespace arena
