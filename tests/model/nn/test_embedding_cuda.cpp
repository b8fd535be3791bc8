// The host-resident token table (model/nn/embedding.h) on CUDA: the classifier's logits are
// bit-identical to a device-resident table's and its LoRA gradients differ no more than two
// device-resident runs do, the table stays in host memory through
// a move, and the device holds that much less; back-to-back lookups queued behind GPU work all
// arrive intact (the pinned staging buffers are not reused early). Needs a GPU: label `gpu` (CI skips it).
#include <c10/cuda/CUDACachingAllocator.h>
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "model/gemma/classifier.h"
#include "model/nn/embedding.h"
#include "model/peft/qlora.h"
#include "model_support.h"

namespace arena {
namespace {

int64_t allocated_bytes() {
  const auto stats = c10::cuda::CUDACachingAllocator::getDeviceStats(0);
  return stats.allocated_bytes[static_cast<size_t>(c10::CachingAllocator::StatType::AGGREGATE)].current;
}

TEST(HostResidentEmbeddingCuda, BitIdenticalTrainingStepAndLessDeviceMemory) {
  ASSERT_TRUE(torch::cuda::is_available());
  const auto c = testing::small_gemma2_config(2, 256, 4, 2, 64, 32000);
  const auto opts = torch::TensorOptions().device(torch::kCUDA).dtype(torch::kBFloat16);
  torch::manual_seed(7);
  GemmaClassifier model(c, opts);
  QloraOptions qo;
  qo.first_layer = 0;
  qo.lora.dropout = 0.1;  // seeded dropout: the same masks when the generators are reseeded
  apply_qlora(*model, qo);
  {
    torch::NoGradGuard g;  // non-zero B so the adapters matter
    for (auto& p : model->parameters())
      if (p.requires_grad()) p.normal_(0.0, 0.02);
  }
  model->train();
  const auto ids = torch::randint(1, c.vocab_size, {3, 150}, opts.dtype(torch::kInt64));
  const auto mask = torch::ones_like(ids);
  const auto labels = torch::tensor({0, 1, 1}, opts.dtype(torch::kInt64));
  const auto step = [&] {
    torch::manual_seed(11);
    model->zero_grad();
    const auto logits = model->forward(ids, mask);
    classification_loss(logits, labels).backward();
    std::vector<torch::Tensor> out{logits.detach().clone()};
    for (const auto& p : model->parameters())
      if (p.requires_grad()) out.push_back(p.grad().clone());
    return out;
  };

  const auto on_device = step();
  const auto again = step();  // run-to-run spread of the gradients (0 unless a kernel uses atomics)
  auto& table = *model->model->embed_tokens;
  const int64_t table_bytes = table.weight.numel() * table.weight.element_size();
  c10::cuda::CUDACachingAllocator::emptyCache();
  const int64_t before = allocated_bytes();
  table.set_host_resident(true);
  EXPECT_TRUE(table.weight.is_cpu());
  EXPECT_LE(allocated_bytes(), before - table_bytes) << "the table left the device";
  model->to(torch::Device(torch::kCUDA, 0));
  EXPECT_TRUE(table.weight.is_cpu()) << "a move keeps the table on the host";
  EXPECT_TRUE(table.output_device().is_cuda());

  const auto on_host = step();
  ASSERT_EQ(on_host.size(), on_device.size());
  EXPECT_TRUE(on_host[0].is_cuda());
  EXPECT_TRUE(torch::equal(on_host[0], on_device[0])) << "logits";
  for (size_t i = 1; i < on_host.size(); ++i) {
    const auto spread = (again[i] - on_device[i]).abs().max().item<double>();
    EXPECT_LE((on_host[i] - on_device[i]).abs().max().item<double>(), spread) << "gradient " << i;
  }
}

// Each forward frees its pinned staging buffer at once while the copy may still be queued; the
// host allocator must not hand it to the next lookup before that copy ran. A long matmul ahead of
// every copy keeps them queued while the host gathers the next batch (the ids are given on the
// host, so no device-to-host copy synchronizes in between).
TEST(HostResidentEmbeddingCuda, BackToBackLookupsArriveIntact) {
  ASSERT_TRUE(torch::cuda::is_available());
  const auto opts = torch::TensorOptions().device(torch::kCUDA).dtype(torch::kBFloat16);
  torch::manual_seed(8);
  ScaledEmbedding table(32000, 2304, 0, opts);
  table->weight.requires_grad_(false);
  std::vector<torch::Tensor> ids, want;
  for (int i = 0; i < 6; ++i) {
    ids.push_back(torch::randint(0, 32000, {4, 1900}, opts.dtype(torch::kInt64)));
    want.push_back(table->forward(ids.back()));
  }
  table->set_host_resident(true);
  const auto busy = torch::randn({8192, 8192}, opts);
  std::vector<torch::Tensor> host_ids, got;
  for (const auto& i : ids) host_ids.push_back(i.cpu());
  for (const auto& i : host_ids) {
    const auto keep_gpu_busy = torch::matmul(busy, busy);
    got.push_back(table->forward(i));
    ASSERT_TRUE(got.back().is_cuda());
  }
  for (size_t i = 0; i < ids.size(); ++i) EXPECT_TRUE(torch::equal(got[i], want[i])) << "lookup " << i;
}

}  // namespace
}  // namespace arena
