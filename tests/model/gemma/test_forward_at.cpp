// The classifier's last layer runs only at the pooled token (GemmaModelImpl::forward_at): its
// logits and every gradient must equal the full forward's, pooled afterwards, on Gemma-2 and
// Gemma-3 shapes, a sliding last layer, left and right padding, per-row positions, and
// recomputation.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <string>
#include <vector>

#include "common/error.h"
#include "model/gemma/classifier.h"
#include "model/nn/attention_mask.h"
#include "model/nn/rotary.h"
#include "model/nn/take_positions.h"
#include "model/peft/qlora.h"
#include "model_support.h"

namespace arena {
namespace {

struct Batch {
  torch::Tensor ids, mask, labels, positions;
};

// Three rows of 12: right-padded (7 real), left-padded (9 real), full; pad id 0.
Batch padded_batch(int64_t vocab) {
  torch::manual_seed(3);
  auto ids = torch::randint(1, vocab, {3, 12}, torch::kInt64);
  ids.index_put_({0, torch::indexing::Slice(7)}, 0);
  ids.index_put_({1, torch::indexing::Slice(0, 3)}, 0);
  const auto mask = (ids != 0).to(torch::kInt64);
  // Per-row positions counting real tokens (what a left-padding caller passes).
  const auto positions = (mask.cumsum(1) - 1).clamp_min(0);
  return {ids, mask, torch::tensor({0, 1, 1}, torch::kInt64), positions};
}

// A small model whose last layer slides over a window shorter than the sequence, with a trained
// (non-zero) adapter on every projection of the upper two layers and no dropout.
GemmaClassifier small_model(bool gemma3, torch::ScalarType dtype) {
  auto c = testing::small_gemma2_config(/*layers=*/3, /*hidden=*/32, /*heads=*/4, /*kv_heads=*/2,
                                        /*head_dim=*/8, /*vocab=*/64);
  c.sliding_window = 5;
  c.sliding_layers = {false, true, true};
  if (gemma3) {
    c.model_type = "gemma3_text";
    c.qk_norm = true;
    c.attn_logit_softcapping = 0;
    c.rope_theta = 1e6;
  }
  torch::manual_seed(0);
  GemmaClassifier model(c, torch::TensorOptions().dtype(dtype));
  QloraOptions q;
  q.quantize = false;
  q.first_layer = 1;
  q.lora.rank = 4;
  q.lora.dropout = 0;
  apply_qlora(*model, q);
  torch::NoGradGuard no_grad;
  for (auto& [name, p] : peft_trainable_parameters(*model))
    if (name.find("lora_B") != std::string::npos) p.normal_(0, 0.1);
  return model;
}

// The reference: every position through every layer, pooled afterwards (what transformers does).
torch::Tensor pooled_after_full_forward(GemmaClassifierImpl& model, const Batch& b, bool positions) {
  const auto hidden = model.model->forward(b.ids, b.mask, positions ? b.positions : torch::Tensor());
  const auto last = last_token_index(b.ids, model.config().pad_token_id);
  return model.score(hidden.index({torch::arange(b.ids.size(0)), last}));
}

struct Result {
  torch::Tensor logits;
  std::vector<torch::Tensor> grads;
};

Result run(GemmaClassifierImpl& model, const Batch& b, bool positions, bool reference) {
  model.zero_grad();
  const auto logits = reference ? pooled_after_full_forward(model, b, positions)
                                : model.forward(b.ids, b.mask, positions ? b.positions : torch::Tensor());
  classification_loss(logits, b.labels).backward();
  Result r{logits.detach().clone(), {}};
  for (auto& [name, p] : peft_trainable_parameters(model)) r.grads.push_back(p.grad().clone());
  return r;
}

void expect_same(const Result& ours, const Result& ref, double tol, const std::string& what) {
  EXPECT_TRUE(torch::allclose(ours.logits, ref.logits, tol, tol)) << what << "\n" << ours.logits << "\n" << ref.logits;
  ASSERT_EQ(ours.grads.size(), ref.grads.size());
  for (size_t i = 0; i < ours.grads.size(); ++i) {
    const double scale = ref.grads[i].abs().max().item<double>();
    EXPECT_GT(scale, 0) << what << " gradient " << i << " is zero: the test would not see a difference";
    EXPECT_LE((ours.grads[i] - ref.grads[i]).abs().max().item<double>(), tol * (1 + scale)) << what << " gradient " << i;
  }
}

TEST(ForwardAt, EqualsTheFullForwardPooledInFp64) {
  for (const bool gemma3 : {false, true})
    for (const bool positions : {false, true})
      for (const bool recompute : {false, true}) {
        auto model = small_model(gemma3, torch::kFloat64);
        model->train();
        model->model->set_recompute(recompute);
        const auto b = padded_batch(model->config().vocab_size);
        const std::string what = std::string(gemma3 ? "gemma3" : "gemma2") + (positions ? " positions" : "") +
                                 (recompute ? " recompute" : "");
        SCOPED_TRACE(what);
        expect_same(run(*model, b, positions, false), run(*model, b, positions, true), 1e-12, what);
      }
}

TEST(ForwardAt, MatchesInBf16OnTheCpuCores) {
  // The full forward's last layer runs the CPU's chunked core, forward_at's the eager one on one
  // query row: the same math, rounded in another order.
  auto model = small_model(/*gemma3=*/false, torch::kBFloat16);
  model->train();
  const auto b = padded_batch(model->config().vocab_size);
  const auto ours = run(*model, b, false, false), ref = run(*model, b, false, true);
  EXPECT_TRUE(torch::allclose(ours.logits.to(torch::kFloat32), ref.logits.to(torch::kFloat32), 2e-2, 2e-2))
      << ours.logits << "\n" << ref.logits;
  for (size_t i = 0; i < ours.grads.size(); ++i) {
    const auto a = ours.grads[i].to(torch::kFloat32), r = ref.grads[i].to(torch::kFloat32);
    EXPECT_LE((a - r).abs().max().item<double>(), 3e-2 * (1 + r.abs().max().item<double>())) << "gradient " << i;
  }
}

TEST(ForwardAt, ALayerAtRowsIsTheFullLayerAtThoseRows) {
  // One decoder layer alone: [B, 1, hidden] at the rows asked for, the full layer's values there.
  auto model = small_model(/*gemma3=*/false, torch::kFloat64);
  const auto b = padded_batch(model->config().vocab_size);
  const auto last = last_token_index(b.ids, 0);
  const auto x = torch::randn({3, 12, 32}, torch::kFloat64);
  const auto tables = rotary_tables(b.positions, 8, 10000.0, torch::kFloat64);
  const auto bias = attention_bias(b.mask, /*window=*/5, torch::kFloat64);
  auto& layer = *model->model->layers.back();
  torch::NoGradGuard no_grad;
  const auto y = layer.forward(x, tables.first, tables.second, bias, last);
  ASSERT_EQ(y.sizes(), (std::vector<int64_t>{3, 1, 32}));
  const auto full = layer.forward(x, tables.first, tables.second, bias);
  EXPECT_TRUE(torch::allclose(y.squeeze(1), full.index({torch::arange(3), last}), 1e-12, 1e-12));
}

TEST(ForwardAt, TakePositionsBroadcastsABatchOfOne) {
  const auto t = torch::arange(2 * 5 * 3, torch::kFloat32).view({1, 2, 5, 3});
  const auto rows = torch::tensor({4, 0, 2}, torch::kInt64);
  const auto got = take_positions(t, rows, 2);
  ASSERT_EQ(got.sizes(), (std::vector<int64_t>{3, 2, 1, 3}));
  for (int64_t b = 0; b < 3; ++b)
    EXPECT_TRUE(torch::equal(got[b].squeeze(1), t[0].select(1, rows[b].item<int64_t>()))) << b;
  EXPECT_THROW(take_positions(t, rows.to(torch::kInt32), 2), Error);
}

}  // namespace
}  // namespace arena
