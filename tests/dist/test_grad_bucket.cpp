// The flat gradient bucket: autograd accumulates into it, it holds only trainable tensors, and its
// byte count is what one all-reduce moves.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "dist/communicator.h"
#include "dist/grad_bucket.h"
#include "model/gemma/classifier.h"
#include "model/peft/qlora.h"
#include "model_support.h"

namespace arena {
namespace {

TEST(GradBucket, HoldsExactlyTheTrainableTensorsAndAccumulatesInPlace) {
  torch::manual_seed(0);
  const auto config = testing::small_gemma2_config(3, 32, 2, 1, 16, 128);
  GemmaClassifier model(config, torch::TensorOptions().dtype(torch::kFloat32));
  QloraOptions q;
  q.first_layer = 1;
  q.lora.rank = 4;
  apply_qlora(*model, q);
  const auto trainable = peft_trainable_parameters(*model);
  int64_t expected = 0;
  for (const auto& [name, t] : trainable) expected += t.numel();
  int64_t requiring = 0;
  for (const auto& p : model->parameters())
    if (p.requires_grad()) requiring += p.numel();
  const auto before = model->score->weight.detach().clone();
  GradBucket bucket(trainable);
  EXPECT_EQ(bucket.numel(), expected);
  EXPECT_EQ(requiring, expected) << "every parameter that trains is in the bucket, and nothing else";
  EXPECT_EQ(bucket.bytes(), expected * 4);
  EXPECT_TRUE(torch::equal(model->score->weight, before)) << "values survive the move into the bucket";

  const auto ids = torch::randint(1, 128, {2, 7});
  const auto mask = torch::ones({2, 7}, torch::kInt64);
  const auto labels = torch::tensor({0, 1});
  for (int k = 0; k < 2; ++k) classification_loss(model->forward(ids, mask), labels).backward();
  EXPECT_TRUE(bucket.grads_in_bucket()) << "autograd replaced a .grad instead of accumulating into the bucket";
  EXPECT_GT(bucket.grads().abs().sum().item<double>(), 0);
  EXPECT_TRUE(bucket.grads_finite());

  // The update reaches the model through the bucket's parameter buffer.
  torch::NoGradGuard no_grad;
  bucket.params().add_(1.0);
  EXPECT_TRUE(torch::allclose(model->score->weight, before + 1));
  bucket.zero_grads();
  EXPECT_EQ(bucket.grads().abs().sum().item<double>(), 0);
  bucket.grads()[3] = std::numeric_limits<float>::infinity();
  EXPECT_FALSE(bucket.grads_finite());
}

TEST(Communicator, WorldOfOneIsTheIdentityAndRefusesWhatItCannotServe) {
  World one;
  auto comm = make_communicator("auto", one, torch::Device(torch::kCPU));
  EXPECT_STREQ(comm->name(), "none");
  auto t = torch::arange(5, torch::kFloat32);
  comm->all_reduce_sum(t);
  EXPECT_TRUE(torch::equal(t, torch::arange(5, torch::kFloat32)));
  World two;
  two.size = 2;
  EXPECT_THROW(make_communicator("none", two, torch::Device(torch::kCPU)), std::exception);
  EXPECT_THROW(make_communicator("nccl", one, torch::Device(torch::kCPU)), std::exception);
  EXPECT_THROW(make_communicator("gloo", one, torch::Device(torch::kCPU)), std::exception);
}

}  // namespace
}  // namespace arena
