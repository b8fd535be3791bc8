// HDF5 checkpoints: exact round trip, atomic replacement, newest-first discovery, pruning, and errors
// that name the file and the object.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>
#include <fstream>

#include "launch/checkpoint.h"
#include "test_support.h"

namespace arena {
namespace {

Checkpoint sample(int64_t step) {
  torch::manual_seed(step);
  Checkpoint c;
  c.state = {step, 1, 7, 100, 5000, 1};
  c.config_toml = "[optim]\nlr = 0.001\n";
  c.base_fingerprint = 12345.678;
  c.world_size = 2;
  c.trainable = {{"base_model.model.score.weight", torch::randn({2, 8})},
                 {"base_model.model.model.layers.1.mlp.up_proj.lora_A.weight", torch::randn({4, 8})}};
  c.exp_avg = {{"base_model.model.score.weight", torch::randn({2, 8})},
               {"base_model.model.model.layers.1.mlp.up_proj.lora_A.weight", torch::randn({4, 8})}};
  c.exp_avg_sq = c.exp_avg;
  c.optimizer_steps = step;
  c.total_steps = 90;
  c.warmup_steps = 9;
  c.peak_lr = 1e-3;
  c.decay = "linear";
  c.rng = torch::randint(0, 255, {2, 5056}, torch::kUInt8);
  return c;
}

TEST(Checkpoint, RoundTripsExactly) {
  testing::TempDir dir;
  const auto c = sample(12);
  const auto path = checkpoint_path(dir.path().string(), 12);
  write_checkpoint(path, c);
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));
  const auto r = read_checkpoint(path);
  EXPECT_EQ(r.state.step, 12);
  EXPECT_EQ(r.state.cursor, 7);
  EXPECT_EQ(r.state.tokens, 5000);
  EXPECT_EQ(r.config_toml, c.config_toml);
  EXPECT_DOUBLE_EQ(r.base_fingerprint, c.base_fingerprint);
  EXPECT_EQ(r.decay, "linear");
  ASSERT_EQ(r.trainable.size(), 2u);
  for (const auto& [name, t] : c.trainable) {
    bool found = false;
    for (const auto& [n2, t2] : r.trainable)
      if (n2 == name) found = torch::equal(t, t2);
    EXPECT_TRUE(found) << name;
  }
  EXPECT_TRUE(torch::equal(r.rng, c.rng));
}

TEST(Checkpoint, NewestFoundOldPrunedPartialWritesIgnored) {
  testing::TempDir dir;
  const auto run = dir.path().string();
  for (int64_t s : {3, 10, 7}) write_checkpoint(checkpoint_path(run, s), sample(s));
  // A write killed half-way leaves only a .tmp file: never picked.
  std::ofstream(checkpoint_path(run, 11) + ".tmp") << "partial";
  EXPECT_EQ(find_checkpoint(run), checkpoint_path(run, 10));
  prune_checkpoints(run, 2);
  EXPECT_FALSE(std::filesystem::exists(checkpoint_path(run, 3)));
  EXPECT_TRUE(std::filesystem::exists(checkpoint_path(run, 7)));
  EXPECT_THROW(find_checkpoint(run + "/missing"), std::exception);
}

TEST(Checkpoint, BadFilesAreNamed) {
  testing::TempDir dir;
  const auto junk = (dir.path() / "step-00000001.h5").string();
  std::ofstream(junk) << "not hdf5";
  try {
    read_checkpoint(junk);
    FAIL();
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find(junk), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace arena
