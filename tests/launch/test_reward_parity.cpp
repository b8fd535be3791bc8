// The reward objective against TRL's own RewardTrainer (fixture: tests/fixtures/gen_reward_fixtures.py):
// the same one-output tiny Gemma-2 with the same PEFT adapter, fed TRL's collated batch (six
// chosen sequences, then the six rejected ones, right-padded) with per-row margins and
// center_rewards_coefficient 0.01. fp32 on both sides with a dense base (no NF4: the parity of
// NF4 itself is test_qlora_parity's), so only summation order differs: loss and every gradient
// within 1e-4 relative to the reference's largest entry.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "launch/objective.h"
#include "model/io/loader.h"
#include "model/io/safetensors.h"
#include "model/peft/peft_adapter.h"
#include "model/peft/qlora.h"
#include "test_support.h"

namespace arena {
namespace {

double rel_err(const torch::Tensor& a, const torch::Tensor& ref) {
  const double scale = std::max(ref.abs().max().item<double>(), 1e-30);
  return (a.to(torch::kFloat64) - ref.to(torch::kFloat64)).abs().max().item<double>() / scale;
}

TEST(RewardParity, LossAndGradientsEqualTrl) {
  const auto dir = testing::fixture_dir() / "reward";
  auto model = load_gemma_classifier((dir / "model").string(), torch::kFloat32, torch::kCPU, 1);
  ASSERT_EQ(model->config().num_labels, 1);
  QloraOptions o;
  o.quantize = false;
  o.lora.rank = 4;
  o.lora.alpha = 8;
  o.lora.dropout = 0.0;
  o.first_layer = 1;
  apply_qlora(*model, o);
  EXPECT_EQ(load_peft_adapter(*model, (dir / "adapter").string()), 3 * 7 * 2 + 1);
  model->train();

  const auto ref = SafetensorsFile::open((dir / "reference.safetensors").string());
  const auto ids = ref->tensor("input_ids").clone(), mask = ref->tensor("attention_mask").clone();
  Batch b;
  b.rows = ids.size(0) / 2;
  b.labels = torch::zeros({b.rows}, torch::kInt64);  // TRL's rows: chosen first, i.e. "A" preferred
  b.margins = ref->tensor("margin").clone();
  TrainConfig c;
  c.objective = "reward";
  c.reward_center_coefficient = 0.01;
  const auto out = objective_loss(c, model->forward(ids, mask), b);
  out.loss.backward();
  EXPECT_LT(rel_err(out.loss.detach().reshape({1}), ref->tensor("loss")), 1e-5)
      << out.loss.item<double>() << " vs " << ref->tensor("loss").item<double>();
  int checked = 0;
  for (const auto& [name, p] : peft_trainable_parameters(*model)) {
    ASSERT_TRUE(ref->contains("grad." + name)) << name;
    ASSERT_TRUE(p.grad().defined()) << name;
    EXPECT_LT(rel_err(p.grad(), ref->tensor("grad." + name)), 1e-4) << name;
    ++checked;
  }
  EXPECT_EQ(checked, 43);
}

}  // namespace
}  // namespace arena
