// QLoRA against bitsandbytes + transformers + PEFT (fixtures: tests/fixtures/gen_qlora_fixtures.py).
#include <gtest/gtest.h>
#include <torch/torch.h>
#include <fmt/format.h>

#include <filesystem>
#include <iostream>
#include <set>

#include "common/error.h"
#include "model/gemma/classifier.h"
#include "model/io/loader.h"
#include "model/io/safetensors.h"
#include "model/peft/peft_adapter.h"
#include "model/peft/qlora.h"
#include "test_support.h"

namespace arena {
namespace {

namespace fs = std::filesystem;

// fp32 on both sides and the same dequantized base (our NF4 is bit-identical to bnb's), so only
// summation order differs: the fp32 bound applies.
constexpr double kTolerance = 1e-4;

fs::path qlora_dir() { return testing::fixture_dir() / "qlora"; }

double rel_error(const torch::Tensor& a, const torch::Tensor& ref) {
  const double scale = std::max(ref.abs().max().item<double>(), 1e-30);
  return (a.to(torch::kFloat64) - ref.to(torch::kFloat64)).abs().max().item<double>() / scale;
}

// The fixture's recipe: r=4, alpha=8, no dropout, all projections, layers 2..3 of 4.
QloraOptions fixture_options() {
  QloraOptions o;
  o.lora.rank = 4;
  o.lora.alpha = 8;
  o.lora.dropout = 0.0;
  o.first_layer = 2;
  return o;
}

struct Batch {
  torch::Tensor ids, mask, labels;
};
Batch fixture_batch() {
  const auto f = SafetensorsFile::open((testing::fixture_dir() / "gemma2" / "gqa4l" / "reference.safetensors").string());
  return {f->tensor("input_ids").clone(), f->tensor("attention_mask").clone(), f->tensor("labels").clone()};
}

// Dense fp32 checkpoint, quantized on load by us, with the fixture adapter.
GemmaClassifier quantized_on_load() {
  auto model = load_gemma_classifier((testing::fixture_dir() / "gemma2" / "gqa4l" / "model").string(),
                                      torch::kFloat32, torch::kCPU);
  apply_qlora(*model, fixture_options());
  load_peft_adapter(*model, (qlora_dir() / "adapter").string());
  return model;
}

// The bitsandbytes-serialized 4-bit checkpoint, loaded as stored, with the fixture adapter.
GemmaClassifier loaded_from_bnb() {
  LoadReport report;
  auto model = load_gemma_classifier((qlora_dir() / "bnb4bit").string(), torch::kFloat32, torch::kCPU, 0, &report);
  EXPECT_EQ(report.quantized, 4 * 7);
  apply_qlora(*model, fixture_options());
  load_peft_adapter(*model, (qlora_dir() / "adapter").string());
  return model;
}

TEST(Qlora, OnlyLoraTensorsAndTheHeadTrain) {
  auto model = quantized_on_load();
  std::set<std::string> trainable;
  for (const auto& p : model->named_parameters())
    if (p.value().requires_grad()) trainable.insert(p.key());
  std::set<std::string> expected{"score.weight"};
  for (int layer : {2, 3}) {
    for (const char* m : {"self_attn.q_proj", "self_attn.k_proj", "self_attn.v_proj", "self_attn.o_proj",
                          "mlp.gate_proj", "mlp.up_proj", "mlp.down_proj"}) {
      expected.insert(fmt::format("model.layers.{}.{}.lora_A", layer, m));
      expected.insert(fmt::format("model.layers.{}.{}.lora_B", layer, m));
    }
  }
  EXPECT_EQ(trainable, expected);
  // Layers 0 and 1 carry no adapters; every projection is frozen in NF4 with no dense copy.
  for (auto& layer : model->model->layers)
    for (auto& [path, linear] : layer_projections(*layer)) {
      EXPECT_TRUE(linear->quantized()) << path;
      EXPECT_FALSE(linear->weight.defined()) << path;
    }
  EXPECT_FALSE(model->model->layers[1]->self_attn->q_proj->has_lora());
}

void expect_matches_peft(GemmaClassifierImpl& model, const std::string& logits_key, const std::string& loss_key,
                         bool check_grads) {
  const auto ref = SafetensorsFile::open((qlora_dir() / "reference.safetensors").string());
  const auto batch = fixture_batch();
  model.zero_grad();
  const auto logits = model.forward(batch.ids, batch.mask);
  const auto loss = classification_loss(logits, batch.labels);
  loss.backward();
  EXPECT_LE(rel_error(logits, ref->tensor(logits_key)), kTolerance);
  EXPECT_LE(rel_error(loss, ref->tensor(loss_key)), kTolerance);
  std::cout << logits_key << ": logits rel err " << rel_error(logits, ref->tensor(logits_key)) << "\n";
  if (!check_grads) return;
  double worst = 0;
  int64_t checked = 0;
  for (auto& [name, param] : peft_trainable_parameters(model)) {
    ASSERT_TRUE(param.grad().defined()) << name;
    const double e = rel_error(param.grad(), ref->tensor("grad." + name));
    EXPECT_LE(e, kTolerance) << name;
    worst = std::max(worst, e);
    ++checked;
  }
  EXPECT_EQ(checked, 2 * 7 * 2 + 1);
  std::cout << "worst LoRA/head gradient rel err " << worst << " over " << checked << " tensors\n";
}

TEST(Qlora, QuantizeOnLoadMatchesPeftOnTheDequantizedBase) {
  auto model = quantized_on_load();
  expect_matches_peft(*model, "logits", "loss", /*check_grads=*/true);
}

TEST(Qlora, BitsandbytesCheckpointMatchesPeftOnTheBnbBase) {
  auto model = loaded_from_bnb();
  expect_matches_peft(*model, "logits.bnb", "loss.bnb", /*check_grads=*/true);
}

TEST(Qlora, BnbCheckpointHoldsExactlyWhatWeQuantize) {
  auto ours = quantized_on_load();
  auto theirs = loaded_from_bnb();
  for (size_t i = 0; i < ours->model->layers.size(); ++i) {
    auto a = layer_projections(*ours->model->layers[i]);
    auto b = layer_projections(*theirs->model->layers[i]);
    for (size_t k = 0; k < a.size(); ++k) {
      EXPECT_TRUE(torch::equal(a[k].second->nf4().packed, b[k].second->nf4().packed)) << i << " " << a[k].first;
      EXPECT_TRUE(torch::equal(a[k].second->nf4().qabsmax, b[k].second->nf4().qabsmax)) << i << " " << a[k].first;
      EXPECT_EQ(a[k].second->nf4().offset, b[k].second->nf4().offset);
    }
  }
}

TEST(Qlora, FreshAdapterLeavesTheModelUnchanged) {
  auto model = load_gemma_classifier((testing::fixture_dir() / "gemma2" / "gqa4l" / "model").string(),
                                      torch::kFloat32, torch::kCPU);
  auto opts = fixture_options();
  opts.quantize = false;
  const auto batch = fixture_batch();
  torch::NoGradGuard no_grad;
  const auto before = model->forward(batch.ids, batch.mask);
  apply_qlora(*model, opts);
  EXPECT_TRUE(torch::equal(before, model->forward(batch.ids, batch.mask)));  // B = 0
  // A follows kaiming-uniform(a=sqrt(5)): U(-1/sqrt(in), 1/sqrt(in)).
  const auto& a = model->model->layers[2]->mlp->down_proj->lora_A;
  EXPECT_LE(a.abs().max().item<double>(), 1.0 / std::sqrt(static_cast<double>(a.size(1))));
  EXPECT_GT(a.abs().max().item<double>(), 0.5 / std::sqrt(static_cast<double>(a.size(1))));
}

// The recompute nodes in the graph behind `out`.
int64_t recompute_nodes(const torch::Tensor& out) {
  std::vector<torch::autograd::Node*> todo{out.grad_fn().get()};
  std::set<torch::autograd::Node*> seen;
  int64_t n = 0;
  while (!todo.empty()) {
    auto* node = todo.back();
    todo.pop_back();
    if (node == nullptr || !seen.insert(node).second) continue;
    n += node->name().find("RecomputeLayer") != std::string::npos ? 1 : 0;
    for (const auto& e : node->next_edges()) todo.push_back(e.function.get());
  }
  return n;
}

TEST(Qlora, RecomputeWithDropoutGivesTheSameGradients) {
  // Dropout draws random masks: recomputation must replay the same ones, whether every layer with
  // a graph recomputes (-1), only the first of them (1), or none (recompute off).
  const auto batch = fixture_batch();
  const std::vector<int64_t> modes{-2, -1, 1};  // -2: recompute off
  std::vector<std::vector<torch::Tensor>> grads(modes.size());
  int64_t graph_layers = 0;
  for (size_t m = 0; m < modes.size(); ++m) {
    auto model = quantized_on_load();
    graph_layers = 0;
    for (auto& layer : model->model->layers) {
      bool lora = false;
      for (auto& [path, linear] : layer_projections(*layer))
        if (linear->has_lora()) {
          linear->set_lora_dropout(0.3);
          lora = true;
        }
      graph_layers += lora || graph_layers > 0 ? 1 : 0;  // every layer above the first adapter
    }
    model->train();
    model->model->set_recompute(modes[m] != -2);
    model->model->set_recompute_layers(modes[m] == -2 ? -1 : modes[m]);
    torch::manual_seed(5);
    const auto loss = classification_loss(model->forward(batch.ids, batch.mask), batch.labels);
    EXPECT_EQ(recompute_nodes(loss), modes[m] == -2 ? 0 : modes[m] == -1 ? graph_layers : 1) << modes[m];
    loss.backward();
    for (auto& [name, p] : peft_trainable_parameters(*model)) grads[m].push_back(p.grad().clone());
  }
  ASSERT_GT(graph_layers, 1);  // so recomputing the first one only is a different plan
  for (size_t m = 1; m < modes.size(); ++m)
    for (size_t i = 0; i < grads[0].size(); ++i) EXPECT_TRUE(torch::equal(grads[0][i], grads[m][i])) << modes[m] << " " << i;
}

TEST(Qlora, ExportWritesPeftNamesAndReloadsExactly) {
  auto model = quantized_on_load();
  testing::TempDir dir;
  save_peft_adapter(*model, fixture_options(), dir.path().string(), "tests/fixtures/gemma2/gqa4l/model");
  const auto ours = SafetensorsFile::open(dir / "adapter_model.safetensors");
  const auto peft = SafetensorsFile::open((qlora_dir() / "adapter" / "adapter_model.safetensors").string());
  std::set<std::string> a, b;
  for (const auto& [k, _] : ours->entries()) a.insert(k);
  for (const auto& [k, _] : peft->entries()) b.insert(k);
  EXPECT_EQ(a, b);  // the same tensor names PEFT itself writes
  for (const auto& k : a) EXPECT_TRUE(torch::equal(ours->tensor(k), peft->tensor(k))) << k;
}

}  // namespace
}  // namespace arena

namespace arena {
namespace {

// A copy of the bitsandbytes fixture checkpoint with one edit, loaded; returns the error text.
std::string bnb_load_error(const std::function<void(std::vector<std::pair<std::string, torch::Tensor>>&)>& edit) {
  testing::TempDir dir;
  const auto src = qlora_dir() / "bnb4bit";
  SafetensorsCheckpoint ckpt(src.string());
  std::vector<std::pair<std::string, torch::Tensor>> tensors;
  for (const auto& name : ckpt.names()) tensors.emplace_back(name, ckpt.tensor(name).clone());
  edit(tensors);
  std::filesystem::copy_file(src / "config.json", dir.path() / "config.json");
  save_safetensors(dir / "model.safetensors", tensors);
  try {
    load_gemma_classifier(dir.path().string(), torch::kFloat32, torch::kCPU);
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

const std::string kQ = "model.layers.1.self_attn.q_proj.weight";

TEST(BnbFormat, Fp4WeightsAreRefusedByName) {
  const auto what = bnb_load_error([](auto& t) {
    for (auto& e : t)
      if (e.first == kQ + ".quant_state.bitsandbytes__nf4") e.first = kQ + ".quant_state.bitsandbytes__fp4";
  });
  EXPECT_NE(what.find(kQ), std::string::npos) << what;
  EXPECT_NE(what.find("FP4"), std::string::npos) << what;
}

TEST(BnbFormat, ForeignCodebookAndWrongSizesAreErrors) {
  auto what = bnb_load_error([](auto& t) {
    for (auto& e : t)
      if (e.first == kQ + ".quant_map") e.second = e.second * 2;
  });
  EXPECT_NE(what.find("not the NF4 codebook"), std::string::npos) << what;
  what = bnb_load_error([](auto& t) {
    for (auto& e : t)
      if (e.first == kQ) e.second = e.second.narrow(0, 0, 10).clone();
  });
  EXPECT_NE(what.find("'" + kQ + "'"), std::string::npos) << what;
  EXPECT_NE(what.find("expected"), std::string::npos) << what;
  what = bnb_load_error([](auto& t) {
    t.erase(std::remove_if(t.begin(), t.end(), [](auto& e) { return e.first == kQ + ".nested_absmax"; }), t.end());
  });
  EXPECT_NE(what.find(kQ + ".nested_absmax"), std::string::npos) << what;
}

}  // namespace
}  // namespace arena
