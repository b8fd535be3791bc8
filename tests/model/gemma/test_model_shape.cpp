// Shapes and loading: the real Gemma-2-2B size without allocating, loader errors, and the
// host-resident token table (same output, stays on the host, refuses to train).
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <filesystem>
#include <string>

#include "common/error.h"
#include "model/gemma/classifier.h"
#include "model/gemma/hf_names.h"
#include "model/io/loader.h"
#include "model/io/safetensors.h"
#include "model_support.h"
#include "test_support.h"

namespace arena {
namespace {

namespace fs = std::filesystem;

TEST(ModelShape, Gemma2_2bHasThePublishedParameterCountOnMeta) {
  const auto config = gemma2_2b_config(/*num_labels=*/2);
  GemmaClassifier model(config, torch::TensorOptions().device(torch::kMeta).dtype(torch::kBFloat16));
  for (const auto& p : model->parameters()) ASSERT_TRUE(p.is_meta());  // nothing was allocated
  EXPECT_EQ(parameter_count(*model->model), 2614341888LL);
  EXPECT_EQ(model->model->embed_tokens->weight.numel(), 589824000LL);
  EXPECT_EQ(parameter_count(*model->score), 2304LL * 2);
  const auto& q = model->model->layers[0]->self_attn->q_proj->weight;
  EXPECT_EQ(q.sizes(), (std::vector<int64_t>{2048, 2304}));
  EXPECT_EQ(model->model->layers[0]->self_attn->k_proj->weight.sizes(), (std::vector<int64_t>{1024, 2304}));
  EXPECT_EQ(model->model->layers[0]->self_attn->o_proj->weight.sizes(), (std::vector<int64_t>{2304, 2048}));
  EXPECT_EQ(model->model->layers[0]->mlp->down_proj->weight.sizes(), (std::vector<int64_t>{2304, 9216}));
}

TEST(ModelShape, HfTableCoversEveryParameterOnce) {
  const auto config = gemma2_2b_config(3);
  GemmaClassifier model(config, torch::TensorOptions().device(torch::kMeta));
  const auto table = hf_parameter_table(*model);
  EXPECT_EQ(table.size(), 1u + 26u * 11u + 1u + 1u);
  int64_t total = 0;
  std::set<const void*> seen;
  for (const auto& e : table) {
    total += e.param.numel();
    EXPECT_TRUE(seen.insert(e.param.unsafeGetTensorImpl()).second) << e.hf_name;
  }
  EXPECT_EQ(total, parameter_count(*model));
  // Reflection names agree with the explicit table (the table is the source of truth).
  const auto named = model->named_parameters();
  for (const auto& e : table) EXPECT_TRUE(named.contains(e.hf_name)) << e.hf_name;
}

// A copy of the 2-layer fixture checkpoint with one change applied, in a temp dir.
class LoaderErrors : public ::testing::Test {
 protected:
  using Edit = std::function<void(std::vector<std::pair<std::string, torch::Tensor>>&)>;
  std::string make_checkpoint(const Edit& edit) {
    const auto src = testing::fixture_dir() / "gemma2" / "gqa2l" / "model";
    SafetensorsCheckpoint ckpt(src.string());
    std::vector<std::pair<std::string, torch::Tensor>> tensors;
    for (const auto& name : ckpt.names()) tensors.emplace_back(name, ckpt.tensor(name));
    edit(tensors);
    fs::copy_file(src / "config.json", dir_.path() / "config.json");
    save_safetensors(dir_ / "model.safetensors", tensors);
    return dir_.path().string();
  }
  std::string load_error(const std::string& dir) {
    try {
      load_gemma_classifier(dir, torch::kFloat32, torch::kCPU);
    } catch (const Error& e) {
      return e.what();
    }
    return "";
  }
  testing::TempDir dir_;
};

TEST_F(LoaderErrors, MissingTensorNamesItAndTheExpectedShape) {
  const auto dir = make_checkpoint([](auto& t) {
    t.erase(std::remove_if(t.begin(), t.end(), [](auto& e) { return e.first == "model.layers.1.mlp.up_proj.weight"; }),
            t.end());
  });
  const auto what = load_error(dir);
  EXPECT_NE(what.find("model.layers.1.mlp.up_proj.weight"), std::string::npos) << what;
  EXPECT_NE(what.find("[96, 48]"), std::string::npos) << what;
  EXPECT_NE(what.find("missing"), std::string::npos) << what;
}

TEST_F(LoaderErrors, MisshapedTensorNamesFileAndBothShapes) {
  const auto dir = make_checkpoint([](auto& t) {
    for (auto& e : t)
      if (e.first == "model.layers.0.self_attn.k_proj.weight") e.second = torch::zeros({16, 48});
  });
  const auto what = load_error(dir);
  EXPECT_NE(what.find("model.layers.0.self_attn.k_proj.weight"), std::string::npos) << what;
  EXPECT_NE(what.find("model.safetensors"), std::string::npos) << what;
  EXPECT_NE(what.find("[16, 48]"), std::string::npos) << what;
  EXPECT_NE(what.find("[32, 48]"), std::string::npos) << what;
}

TEST_F(LoaderErrors, UnexpectedTensorIsAnErrorButTiedLmHeadIsIgnored) {
  auto dir = make_checkpoint([](auto& t) { t.emplace_back("model.layers.0.mlp.extra.weight", torch::zeros({2})); });
  const auto what = load_error(dir);
  EXPECT_NE(what.find("unexpected tensor 'model.layers.0.mlp.extra.weight'"), std::string::npos) << what;
}

TEST_F(LoaderErrors, BaseCheckpointWithoutHeadLoadsAndReportsIt) {
  const auto dir = make_checkpoint([](auto& t) {
    t.erase(std::remove_if(t.begin(), t.end(), [](auto& e) { return e.first == "score.weight"; }), t.end());
    t.emplace_back("lm_head.weight", torch::zeros({256, 48}));
  });
  LoadReport report;
  auto model = load_gemma_classifier(dir, torch::kBFloat16, torch::kCPU, /*num_labels=*/3, &report);
  EXPECT_EQ(report.initialized, std::vector<std::string>{"score.weight"});
  EXPECT_EQ(report.ignored, std::vector<std::string>{"lm_head.weight"});
  EXPECT_EQ(model->score->weight.size(0), 3);
  EXPECT_EQ(model->score->weight.scalar_type(), torch::kBFloat16);
}

TEST_F(LoaderErrors, IntegerTensorWhereWeightsBelongIsAnError) {
  const auto dir = make_checkpoint([](auto& t) {
    for (auto& e : t)
      if (e.first == "model.norm.weight") e.second = torch::zeros({48}, torch::kInt32);
  });
  const auto what = load_error(dir);
  EXPECT_NE(what.find("model.norm.weight"), std::string::npos) << what;
  EXPECT_NE(what.find("dtype"), std::string::npos) << what;
}

TEST(HostResidentEmbedding, SameOutputAndTheTableStaysOnTheHost) {
  torch::manual_seed(3);
  const auto config = testing::small_gemma2_config(2, 48, 4, 2, 12, 300);
  GemmaClassifier model(config, torch::TensorOptions().dtype(torch::kFloat32));
  model->eval();
  const auto ids = torch::randint(0, 300, {3, 17}, torch::kInt64);
  const auto mask = torch::ones({3, 17}, torch::kInt64);
  torch::NoGradGuard no_grad;
  const auto rows = model->model->embed_tokens(ids);
  const auto logits = model(ids, mask);

  auto& table = *model->model->embed_tokens;
  table.set_host_resident(true);
  EXPECT_TRUE(table.host_resident());
  EXPECT_TRUE(torch::equal(table.forward(ids), rows));  // index_select on the host, same bytes
  EXPECT_TRUE(torch::equal(model(ids, mask), logits));

  // A move changes the dtype of the table but not its place; outputs follow the move.
  model->to(torch::kCPU, torch::kBFloat16);
  EXPECT_TRUE(table.weight.is_cpu());
  EXPECT_EQ(table.weight.scalar_type(), torch::kBFloat16);
  EXPECT_EQ(table.output_device(), torch::Device(torch::kCPU));
  const auto host_rows = table.forward(ids);
  EXPECT_EQ(host_rows.scalar_type(), torch::kBFloat16);
  table.set_host_resident(false);
  EXPECT_TRUE(torch::equal(table.forward(ids), host_rows));  // torch::embedding on the table's device
  EXPECT_FALSE(table.host_resident());
  EXPECT_TRUE(table.weight.is_cpu());
}

TEST(HostResidentEmbedding, RefusesATrainableTableInATrainingForward) {
  torch::manual_seed(4);
  ScaledEmbedding table(300, 48, 0, torch::TensorOptions().dtype(torch::kFloat32));
  table->set_host_resident(true);
  const auto ids = torch::randint(0, 300, {2, 5}, torch::kInt64);
  try {
    table(ids);
    FAIL() << "a trainable host-resident table ran a training forward";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("must be frozen"), std::string::npos) << e.what();
  }
  torch::NoGradGuard no_grad;  // evaluation does not need the table's gradient
  EXPECT_EQ(table(ids).sizes(), (std::vector<int64_t>{2, 5, 48}));
}

}  // namespace
}  // namespace arena
