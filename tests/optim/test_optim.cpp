// AdamW, clipping and schedules against libtorch's own implementations and transformers' formulas.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <cmath>

#include "optim/adamw.h"
#include "optim/lr_schedule.h"

namespace arena {
namespace {

TEST(AdamW, MatchesTorchAdamWOverManySteps) {
  torch::manual_seed(0);
  const auto init = torch::randn({257});
  auto ours = init.clone();
  auto ref = init.clone().requires_grad_(true);
  AdamWOptions o;
  o.weight_decay = 0.01;
  AdamW opt(ours, o);
  torch::optim::AdamW torch_opt({ref}, torch::optim::AdamWOptions(1e-3).betas({0.9, 0.999}).eps(1e-8).weight_decay(0.01));
  for (int step = 0; step < 50; ++step) {
    const auto g = torch::randn({257}) * (step + 1);
    const double lr = 1e-3;
    ref.mutable_grad() = g.clone();
    torch_opt.step();
    opt.step(ours, g, lr);
  }
  const double err = (ours - ref.detach()).abs().max().item<double>();
  EXPECT_LT(err, 1e-6) << "max |ours - torch.optim.AdamW| after 50 steps";
  EXPECT_EQ(opt.steps(), 50);
}

// Segments with their own learning rates step exactly as separate optimizers (parameter groups).
TEST(AdamW, SegmentsStepAsSeparateGroups) {
  torch::manual_seed(3);
  const auto a0 = torch::randn({5}), b0 = torch::randn({7});
  auto flat = torch::cat({a0, b0}), a = a0.clone(), b = b0.clone();
  const AdamWOptions o{0.9, 0.999, 1e-8, 0.01};
  AdamW joint(flat, o), only_a(a, o), only_b(b, o);
  for (int step = 0; step < 4; ++step) {
    const auto ga = torch::randn({5}), gb = torch::randn({7});
    joint.step(flat, torch::cat({ga, gb}), {{0, 5, 1e-2}, {5, 12, 3e-4}});
    only_a.step(a, ga, 1e-2);
    only_b.step(b, gb, 3e-4);
  }
  EXPECT_TRUE(torch::equal(flat, torch::cat({a, b})));
  EXPECT_THROW(joint.step(flat, torch::zeros({12}), {{0, 5, 1e-2}}), std::exception);  // must tile the bucket
}

TEST(Clip, MatchesTorchClipGradNorm) {
  torch::manual_seed(1);
  auto a = torch::randn({100}, torch::requires_grad());
  a.mutable_grad() = torch::randn({100}) * 10;
  auto flat = a.grad().clone();
  const double ref_norm = torch::nn::utils::clip_grad_norm_({a}, 1.0);
  const double norm = clip_grad_norm(flat, 1.0);
  EXPECT_NEAR(norm, ref_norm, 1e-4 * ref_norm);
  EXPECT_LT((flat - a.grad()).abs().max().item<double>(), 1e-6);
  auto small = torch::full({4}, 0.1);
  clip_grad_norm(small, 1.0);  // norm 0.2 < 1: unchanged
  EXPECT_TRUE(torch::allclose(small, torch::full({4}, 0.1)));
}

TEST(LrSchedule, LinearWarmupThenDecayLikeTransformers) {
  const LrSchedule s{1e-3, 10, 110, DecayKind::kLinear};
  EXPECT_DOUBLE_EQ(s.lr(0), 0.0);                   // the Trainer's first step runs at lr 0
  EXPECT_DOUBLE_EQ(s.lr(5), 0.5e-3);
  EXPECT_DOUBLE_EQ(s.lr(10), 1e-3);                 // peak right after warmup
  EXPECT_DOUBLE_EQ(s.lr(60), 0.5e-3);               // (110 - 60) / 100
  EXPECT_DOUBLE_EQ(s.lr(110), 0.0);
  const LrSchedule c{1e-3, 10, 110, DecayKind::kCosine};
  EXPECT_NEAR(c.lr(60), 0.5e-3, 1e-15);              // halfway: cos(pi/2)
  EXPECT_NEAR(c.lr(35), 1e-3 * 0.5 * (1 + std::cos(M_PI * 0.25)), 1e-15);
  EXPECT_THROW(parse_decay("step"), std::exception);
}

}  // namespace
}  // namespace arena
