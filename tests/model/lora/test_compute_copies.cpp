// Compute copies of the fp32 trainables (model/lora/compute_copies.h): the trainer's bf16 steps give
// the same bits as casting each tensor at every use, stale copies are recast, and a recast under a
// pending backward fails instead of mixing values.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cstring>
#include <memory>
#include <vector>

#include "dist/grad_bucket.h"
#include "model/gemma/classifier.h"
#include "model/peft/qlora.h"
#include "model_support.h"
#include "optim/adamw.h"

namespace arena {
namespace {

// The trainer's set-up on a small bf16 model: NF4 base, LoRA with dropout, fp32 trainables in one
// bucket, AdamW on it; with or without the compute copies.
struct TrainerSetup {
  GemmaClassifier model{nullptr};
  std::unique_ptr<GradBucket> bucket;
  std::unique_ptr<AdamW> opt;
  std::shared_ptr<ComputeCopies> copies;

  TrainerSetup(bool with_copies, bool recompute) {
    torch::manual_seed(3);
    const auto config = testing::small_gemma2_config(3, 64, 4, 2, 16, 256);
    model = GemmaClassifier(config, torch::TensorOptions().dtype(torch::kBFloat16));
    QloraOptions q;
    q.first_layer = 1;
    q.lora.rank = 4;
    q.lora.dropout = 0.1;
    apply_qlora(*model, q);
    trainables_to_fp32(*model);
    {  // B = 0 would give lora_A no gradient on the first step
      torch::NoGradGuard no_grad;
      for (auto& [name, t] : peft_trainable_parameters(*model))
        if (name.find("lora_B") != std::string::npos) t.normal_(0.0, 0.05);
    }
    model->model->set_recompute(recompute);
    model->train();
    bucket = std::make_unique<GradBucket>(peft_trainable_parameters(*model));
    opt = std::make_unique<AdamW>(bucket->params(), AdamWOptions{0.9, 0.999, 1e-8, 0.01});
    if (with_copies) copies = attach_compute_copies(*model, bucket->named(), bucket->params());
  }

  // One optimizer step over two micro-batches, as launch/trainer.cpp runs it. Returns the loss sum.
  double step(int64_t k) {
    double loss_sum = 0;
    for (int64_t micro = 0; micro < 2; ++micro) {
      torch::manual_seed(100 + 10 * k + micro);  // the same data and dropout masks in both set-ups
      const auto ids = torch::randint(1, 256, {3, 11});
      const auto labels = torch::randint(0, 2, {3});
      const auto loss = classification_loss(model->forward(ids, torch::ones({3, 11}, torch::kInt64)), labels);
      loss.backward();
      if (copies) copies->fold_grads(bucket->grads());
      loss_sum += loss.item<double>();
    }
    opt->step(bucket->params(), bucket->grads(), 1e-2);
    return loss_sum;
  }
};

TEST(ComputeCopies, TrainerStepsGiveTheSameBitsAsCastingAtEveryUse) {
  for (const bool recompute : {false, true}) {
    TrainerSetup cast(false, recompute), copied(true, recompute);
    ASSERT_TRUE(copied.copies->active());
    for (int64_t k = 0; k < 3; ++k) {
      EXPECT_EQ(cast.step(k), copied.step(k)) << "step " << k << " recompute " << recompute;
      EXPECT_TRUE(torch::equal(cast.bucket->grads(), copied.bucket->grads())) << "step " << k;
      EXPECT_GT(copied.bucket->grads().abs().sum().item<double>(), 0);
      EXPECT_TRUE(torch::equal(cast.bucket->params(), copied.bucket->params())) << "step " << k;
      cast.bucket->zero_grads();
      copied.bucket->zero_grads();
    }
    // The fp32 tensors themselves take no gradient: it all reached the bucket through the fold.
    for (const auto& [name, t] : copied.bucket->named())
      EXPECT_TRUE(torch::equal(t.grad(), torch::zeros_like(t))) << name;
  }
}

TEST(ComputeCopies, ChangedTensorsAreRecastBeforeTheNextForward) {
  TrainerSetup cast(false, false), copied(true, false);
  cast.model->eval();
  copied.model->eval();
  const auto ids = torch::randint(1, 256, {2, 9});
  const auto mask = torch::ones({2, 9}, torch::kInt64);
  const auto same = [&](const char* what) {
    torch::NoGradGuard no_grad;
    EXPECT_TRUE(torch::equal(cast.model->forward(ids, mask), copied.model->forward(ids, mask))) << what;
  };
  same("fresh");
  {
    torch::NoGradGuard no_grad;  // through the flat buffer, as the optimizer and a checkpoint load write
    cast.bucket->params().mul_(1.5);
    copied.bucket->params().mul_(1.5);
  }
  same("after a write into the flat buffer");
  {
    torch::NoGradGuard no_grad;  // through one tensor, as a test or a tool might
    cast.model->score->weight.add_(0.25);
    copied.model->score->weight.add_(0.25);
  }
  same("after a write into one tensor");
  {
    torch::NoGradGuard no_grad;  // behind torch's back (a communicator's broadcast): mark_stale
    const auto flat = torch::full({copied.bucket->numel()}, 0.125f);
    std::memcpy(cast.bucket->params().data_ptr<float>(), flat.data_ptr<float>(), flat.nbytes());
    std::memcpy(copied.bucket->params().data_ptr<float>(), flat.data_ptr<float>(), flat.nbytes());
  }
  copied.copies->mark_stale();
  same("after mark_stale");
}

TEST(ComputeCopies, ARecastUnderAPendingBackwardFails) {
  TrainerSetup copied(true, false);
  const auto ids = torch::randint(1, 256, {2, 9});
  const auto mask = torch::ones({2, 9}, torch::kInt64);
  const auto labels = torch::tensor({0, 1});
  const auto loss = classification_loss(copied.model->forward(ids, mask), labels);
  {
    torch::NoGradGuard no_grad;
    copied.bucket->params().add_(1.0);
  }
  const auto second = classification_loss(copied.model->forward(ids, mask), labels);  // recasts
  EXPECT_THROW(loss.backward(), c10::Error) << "the first graph's copies were overwritten";
}

TEST(ComputeCopies, Fp32ModelsGetNoneAndGoingAwayUninstalls) {
  torch::manual_seed(0);
  const auto config = testing::small_gemma2_config(2, 32, 2, 1, 16, 128);
  GemmaClassifier fp32(config, torch::TensorOptions().dtype(torch::kFloat32));
  QloraOptions q;
  q.first_layer = 0;
  apply_qlora(*fp32, q);
  GradBucket fp32_bucket(peft_trainable_parameters(*fp32));
  EXPECT_FALSE(attach_compute_copies(*fp32, fp32_bucket.named(), fp32_bucket.params())->active());

  TrainerSetup copied(true, false);
  auto& q_proj = *copied.model->model->layers[2]->self_attn->q_proj;
  const auto x = torch::ones({1, 64}, torch::kBFloat16);
  EXPECT_FALSE(q_proj.lora_A_as(x).is_same(q_proj.lora_A));
  EXPECT_TRUE(q_proj.lora_A_as(x).is_leaf()) << "the copy, not a cast in the graph";
  copied.copies.reset();
  EXPECT_FALSE(q_proj.lora_A_as(x).is_leaf()) << "uninstalled: a cast again";
}

TEST(ComputeCopies, GradientsOfSomeCopiesLandAtTheirOffsets) {
  // A backward that reaches one copy only: its gradient lands in its own slice of the bucket.
  TrainerSetup copied(true, false);
  auto& v_proj = *copied.model->model->layers[1]->self_attn->v_proj;
  const auto x = torch::ones({1, 64}, torch::kBFloat16);
  (v_proj.lora_A_as(x).to(torch::kFloat32) * 3).sum().backward();
  copied.copies->fold_grads(copied.bucket->grads());
  int64_t offset = 0;
  for (const auto& [name, t] : copied.bucket->named()) {
    const auto slice = copied.bucket->grads().narrow(0, offset, t.numel());
    const double want = t.is_same(v_proj.lora_A) ? 3.0 : 0.0;
    EXPECT_TRUE(torch::equal(slice, torch::full_like(slice, want))) << name;
    offset += t.numel();
  }
}

TEST(ComputeCopies, TensorsOutsideTheModelAreRefusedByName) {
  TrainerSetup copied(false, false);
  auto named = copied.bucket->named();
  named.emplace_back("stray", torch::zeros({4}, torch::requires_grad()));
  const auto flat = torch::zeros({copied.bucket->numel() + 4});
  try {
    ComputeCopies c(*copied.model, named, flat, torch::kBFloat16);
    FAIL() << "a tensor that is no Linear's was accepted";
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("'stray'"), std::string::npos) << e.what();
  }
  auto& q_proj = *copied.model->model->layers[2]->self_attn->q_proj;
  EXPECT_FALSE(q_proj.lora_A_as(torch::ones({1, 64}, torch::kBFloat16)).is_leaf())
      << "the copies placed before the refusal were taken out again";
}

}  // namespace
}  // namespace arena
