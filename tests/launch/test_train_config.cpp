// One definition per setting: TOML, command line and the resolved config agree.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>

#include "launch/config_cli.h"
#include "launch/model_setup.h"
#include "launch/train_config.h"
#include "test_support.h"

namespace arena {
namespace {

TEST(TrainConfig, TomlRoundTripAndPrecedence) {
  TrainConfig c;
  load_toml_text(c, "[optim]\nlr = 5e-4\n[lora]\ntargets = [\"q_proj\", \"v_proj\"]\n[data]\npath = \"x.jsonl\"\n",
                 "inline");
  EXPECT_DOUBLE_EQ(c.lr, 5e-4);
  EXPECT_EQ(c.lora_targets, (std::vector<std::string>{"q_proj", "v_proj"}));
  TrainConfig back;
  load_toml_text(back, to_toml(c), "resolved");
  EXPECT_EQ(to_toml(back), to_toml(c));

  testing::TempDir dir;
  const auto file = (dir.path() / "run.toml").string();
  std::ofstream(file) << "[optim]\nlr = 5e-4\nepochs = 3\n[data]\npath = \"a.jsonl\"\n";
  CLI::App app;
  ConfigOptions options(&app);
  app.parse(std::vector<std::string>{"1e-5", "--optim.lr", file, "-c", "2", "--epochs"});  // reversed argv
  const auto r = options.resolve();
  EXPECT_DOUBLE_EQ(r.lr, 1e-5) << "command line beats the file";
  EXPECT_EQ(r.epochs, 2) << "alias --epochs beats the file";
  EXPECT_EQ(r.data_path, "a.jsonl") << "the file beats the defaults";
}

TEST(TrainConfig, RepeatedOptionLastWins) {
  // Launch scripts append the user's overrides after their own options (cluster/slurm_job.sh).
  CLI::App app;
  ConfigOptions options(&app);
  // --optim.lr 5e-4 --lr 1e-4 --train.threads 1 --train.threads 2 --train.log_batches false --train.log_batches
  app.parse(std::vector<std::string>{"--train.log_batches", "false", "--train.log_batches", "2", "--train.threads",
                                     "1", "--train.threads", "1e-4", "--lr", "5e-4", "--optim.lr"});  // reversed
  const auto r = options.resolve("", "", /*checked=*/false);
  EXPECT_DOUBLE_EQ(r.lr, 1e-4) << "the later of --lr and --optim.lr";
  EXPECT_EQ(r.threads, 2);
  EXPECT_TRUE(r.log_batches) << "a bare boolean flag after an explicit value";
}

TEST(TrainConfig, ErrorsNameTheSetting) {
  TrainConfig c;
  try {
    load_toml_text(c, "[optim]\nlearning_rate = 1\n", "run.toml");
    FAIL();
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("unknown setting 'optim.learning_rate'"), std::string::npos) << e.what();
  }
  try {
    load_toml_text(c, "[optim]\nepochs = \"two\"\n", "run.toml");
    FAIL();
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find("optim.epochs: expected an integer"), std::string::npos) << e.what();
  }
  c.data_path = "x";
  c.labels = "3class";
  EXPECT_THROW(validate(c), std::exception) << "3class labels with a 2-label head";
  c.num_labels = 3;
  EXPECT_NO_THROW(validate(c));
  const auto expect_refused = [&](const std::string& setting) {
    try {
      validate(c);
      ADD_FAILURE() << "validate accepted a bad " << setting;
    } catch (const std::exception& e) {
      EXPECT_NE(std::string(e.what()).find(setting), std::string::npos) << e.what();
    }
  };
  c.embedding = "gpu";
  expect_refused("model.embedding");
  c.embedding = "auto";
  c.attention = "flash";
  EXPECT_NO_THROW(validate(c));
  c.attention = "flash2";
  expect_refused("model.attention");
}

TEST(TrainConfig, EmbeddingPlacement) {
  TrainConfig c;
  const torch::Device cpu(torch::kCPU), gpu(torch::kCUDA, 0);
  EXPECT_FALSE(embedding_on_host(c, cpu)) << "auto keeps the table with the model on the CPU";
  EXPECT_TRUE(embedding_on_host(c, gpu)) << "auto keeps the table in host memory next to a GPU";
  c.embedding = "device";
  EXPECT_FALSE(embedding_on_host(c, gpu));
  c.embedding = "host";
  EXPECT_TRUE(embedding_on_host(c, cpu));
}

TEST(TrainConfig, ShippedConfigsParse) {
  int count = 0;
  for (const auto& entry : std::filesystem::directory_iterator(testing::source_dir() / "configs")) {
    if (entry.path().extension() != ".toml") continue;
    TrainConfig c;
    EXPECT_NO_THROW(load_toml_file(c, entry.path().string())) << entry.path();
    EXPECT_NO_THROW(validate(c)) << entry.path();
    ++count;
  }
  EXPECT_GE(count, 4);
}

}  // namespace
}  // namespace arena
