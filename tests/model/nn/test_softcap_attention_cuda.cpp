// The fused soft-capped attention core (model/nn/softcap_attention.h) against the eager core
// (eager_softcap_attention) in float64, outputs and gradients, and the whole classifier on CUDA
// with the fused core against the eager one. Needs a GPU: label `gpu` (CI skips it).
#include <gtest/gtest.h>
#include <torch/torch.h>

#include "model/gemma/classifier.h"
#include "model/gemma/config.h"
#include "model/nn/attention_mask.h"
#include "model/nn/fused_ops.h"
#include "model/nn/softcap_attention.h"
#include "model/peft/qlora.h"
#include "model_support.h"

namespace arena {
namespace {

class SoftcapAttentionCuda : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(torch::cuda::is_available()) << "no CUDA device: run the gpu label on a GPU machine";
  }
  void TearDown() override {
    set_attention_kernel(AttentionKernel::kAuto);
    set_fused_elementwise(true);
  }
};

double rel(const torch::Tensor& a, const torch::Tensor& ref) {
  const auto d = a.to(torch::kFloat64) - ref.to(torch::kFloat64);
  return (d.norm() / ref.to(torch::kFloat64).norm()).item<double>();
}

struct Errors {
  double out, dq, dk, dv;
};

// Runs fused (in `dtype`) and the float64 eager reference on the same inputs and output grads.
Errors compare(int64_t b, int64_t h, int64_t kv, int64_t s, int64_t d, int64_t window, torch::ScalarType dtype,
               bool use_fused, double cap = 50.0, bool contiguous_bias = false) {
  const auto opts = torch::TensorOptions().device(torch::kCUDA).dtype(torch::kFloat32);
  auto q0 = torch::randn({b, h, s, d}, opts).to(dtype);
  auto k0 = torch::randn({b, kv, s, d}, opts).to(dtype);
  auto v0 = torch::randn({b, kv, s, d}, opts).to(dtype);
  const auto go = torch::randn({b, h, s, d}, opts).to(dtype);
  // Row 0 unpadded, row 1 right-padded (no fully masked query rows, whose value is arbitrary).
  auto mask = torch::ones({b, s}, opts.dtype(torch::kInt64));
  if (b > 1) mask[1].narrow(0, s - s / 3, s / 3).zero_();
  const double scale = 1.0 / std::sqrt(static_cast<double>(d));

  const auto run = [&](const torch::Tensor& q_in, const torch::Tensor& k_in, const torch::Tensor& v_in, bool fused) {
    auto q = q_in.detach().clone().requires_grad_(true);
    auto k = k_in.detach().clone().requires_grad_(true);
    auto v = v_in.detach().clone().requires_grad_(true);
    // attention_bias() pads its rows for the row kernels; a contiguous copy takes the fused core's
    // re-aligning copy instead.
    auto bias = attention_bias(mask, window, q.scalar_type());
    if (contiguous_bias) bias = bias.contiguous();
    const auto out = fused ? softcap_attention(q, k, v, bias, scale, cap)
                           : eager_softcap_attention(q, k, v, bias, scale, cap);  // both [B, S, H, D]
    out.backward(go.to(q.scalar_type()).transpose(1, 2));
    return std::vector<torch::Tensor>{out.detach(), q.grad(), k.grad(), v.grad()};
  };
  const auto ref = run(q0.to(torch::kFloat64), k0.to(torch::kFloat64), v0.to(torch::kFloat64), false);
  const auto got = run(q0, k0, v0, use_fused);
  for (const auto& t : got) EXPECT_FALSE(torch::isnan(t).any().item<bool>());
  return {rel(got[0], ref[0]), rel(got[1], ref[1]), rel(got[2], ref[2]), rel(got[3], ref[3])};
}

TEST_F(SoftcapAttentionCuda, Float32MatchesFloat64Reference) {
  torch::manual_seed(1);
  // One chunk (37, 300) and several (1900: 4 chunks; 5000: 11), 64 to 256 threads per row.
  for (const int64_t s : {37, 300, 1900, 5000}) {
    const auto e = compare(2, 4, 2, s, 64, /*window=*/s / 2, torch::kFloat32, true);
    EXPECT_LT(e.out, 1e-5) << "S=" << s;
    EXPECT_LT(e.dq, 1e-4) << "S=" << s;
    EXPECT_LT(e.dk, 1e-4) << "S=" << s;
    EXPECT_LT(e.dv, 1e-5) << "S=" << s;
  }
}

// Four query heads per KV head, and chunks of unequal length and width (512, 512 and 376
// positions reading 512, 1024 and 1400 keys).
TEST_F(SoftcapAttentionCuda, WideGroupsAndUnequalChunks) {
  torch::manual_seed(5);
  const auto e = compare(2, 8, 2, 1400, 64, 0, torch::kFloat32, true);
  EXPECT_LT(e.out, 1e-5);
  EXPECT_LT(e.dq, 1e-4);
  EXPECT_LT(e.dk, 1e-4);
  EXPECT_LT(e.dv, 1e-5);
}

TEST_F(SoftcapAttentionCuda, NoSoftcapAndNoGqa) {
  torch::manual_seed(2);
  const auto e = compare(2, 3, 3, 129, 32, 0, torch::kFloat32, true, /*cap=*/0.0, /*contiguous_bias=*/true);
  EXPECT_LT(e.out, 1e-5);
  EXPECT_LT(e.dq, 1e-4);
  EXPECT_LT(e.dk, 1e-4);
  EXPECT_LT(e.dv, 1e-5);
}

TEST_F(SoftcapAttentionCuda, Bfloat16IsAsCloseToFloat64AsTheEagerPath) {
  torch::manual_seed(3);
  for (const int64_t s : {300, 1900}) {
    const auto fused = compare(2, 8, 4, s, 256, 4096, torch::kBFloat16, true);
    torch::manual_seed(3);
    const auto ref = compare(2, 8, 4, s, 256, 4096, torch::kBFloat16, false);
    // Same inputs (same seed): the fused core rounds once, the eager one after every step.
    EXPECT_LT(fused.out, 1.5 * ref.out + 1e-3) << "S=" << s << " eager " << ref.out;
    EXPECT_LT(fused.dq, 1.5 * ref.dq + 1e-3) << "S=" << s << " eager " << ref.dq;
    EXPECT_LT(fused.dk, 1.5 * ref.dk + 1e-3) << "S=" << s << " eager " << ref.dk;
    EXPECT_LT(fused.dv, 1.5 * ref.dv + 1e-3) << "S=" << s << " eager " << ref.dv;
    EXPECT_LT(fused.out, 2e-2);
    EXPECT_LT(fused.dq, 3e-2);
  }
}

// The classifier on CUDA in bf16 with NF4 + LoRA: fused kernels (attention, RMSNorm, GeGLU; the
// fused core or the flash kernels) and the eager ops give the same loss
// and LoRA gradients up to bf16 rounding, with and without recomputation.
TEST_F(SoftcapAttentionCuda, ClassifierFusedKernelsMatchEager) {
  auto c = testing::small_gemma2_config(4, 256, 4, 2, 64, 1000);
  c.sliding_window = 48;
  const auto opts = torch::TensorOptions().device(torch::kCUDA).dtype(torch::kBFloat16);
  torch::manual_seed(4);
  GemmaClassifier model(c, opts);
  QloraOptions qo;
  qo.first_layer = 1;
  qo.lora.dropout = 0.0;
  apply_qlora(*model, qo);
  {
    torch::NoGradGuard g;  // non-zero B so the adapters matter
    for (auto& p : model->parameters())
      if (p.requires_grad()) p.normal_(0.0, 0.02);
  }
  // Rows: unpadded, right-padded, left-padded. The left pad rows see no key at all: the fused core
  // and the eager path give them different values, which must not reach the loss or gradients.
  const auto ids = torch::randint(1, c.vocab_size, {3, 100}, opts.dtype(torch::kInt64));
  auto mask = torch::ones_like(ids);
  mask[1].narrow(0, 70, 30).zero_();
  mask[2].narrow(0, 0, 25).zero_();
  const auto ids_padded = ids * mask;
  const auto labels = torch::tensor({0, 1, 1}, opts.dtype(torch::kInt64));

  const auto run = [&](AttentionKernel kernel, bool recompute) {
    set_attention_kernel(kernel);
    set_fused_elementwise(kernel != AttentionKernel::kEager);  // the reference: every op eager
    model->model->set_recompute(recompute);
    model->zero_grad();
    const auto logits = model->forward(ids_padded, mask);
    classification_loss(logits, labels).backward();
    std::vector<torch::Tensor> out{logits.detach().to(torch::kFloat32)};
    for (const auto& p : model->parameters())
      if (p.requires_grad()) out.push_back(p.grad().to(torch::kFloat32).clone());
    return out;
  };
  const auto ref = run(AttentionKernel::kEager, false);
  for (const auto kernel : {AttentionKernel::kFused, AttentionKernel::kFlash}) {
    for (const bool recompute : {false, true}) {
      SCOPED_TRACE(kernel == AttentionKernel::kFlash ? "flash kernels" : "fused core");
      const auto got = run(kernel, recompute);
      ASSERT_EQ(got.size(), ref.size());
      EXPECT_LT(rel(got[0], ref[0]), 2e-2) << "logits, recompute " << recompute;
      std::vector<torch::Tensor> g, r;
      for (size_t i = 1; i < got.size(); ++i) {
        g.push_back(got[i].flatten());
        r.push_back(ref[i].flatten());
      }
      EXPECT_LT(rel(torch::cat(g), torch::cat(r)), 3e-2) << "trainable gradients, recompute " << recompute;
    }
  }
}

// The flash kernels (AttentionKernel::kFlash, model/cuda/flash_forward.cuh and flash_backward.cuh)
// with the fused core's bias and layouts, against float64: as close as the fused core in bf16,
// across row blocks and key tiles (37: one of each; 300 and 1900: several, partial ones last),
// head dims 256 and 64, GQA 2 and 4, a window shorter than the sequence, a right-padded row.
// tests/model/cuda/test_flash_attention_emu runs the same kernel source on the CPU.
struct FlashShape {
  int64_t h, kv, s, d, window;
};

void expect_flash_as_close_as_fused(const FlashShape& sh) {
  SCOPED_TRACE(::testing::Message() << "H=" << sh.h << " KV=" << sh.kv << " S=" << sh.s << " D=" << sh.d);
  torch::manual_seed(6);
  const auto fused = compare(2, sh.h, sh.kv, sh.s, sh.d, sh.window, torch::kBFloat16, true);
  set_attention_kernel(AttentionKernel::kFlash);
  torch::manual_seed(6);
  const auto flash = compare(2, sh.h, sh.kv, sh.s, sh.d, sh.window, torch::kBFloat16, true);
  set_attention_kernel(AttentionKernel::kAuto);
  // The flash kernels keep the scores in fp32 where the fused core rounds them to bf16, and sum
  // dk, dv in fp32 across all rows: no worse than the fused core.
  EXPECT_LT(flash.out, 1.2 * fused.out + 1e-3) << "fused " << fused.out;
  EXPECT_LT(flash.dq, 1.5 * fused.dq + 1e-3) << "fused " << fused.dq;
  EXPECT_LT(flash.dk, 1.5 * fused.dk + 1e-3) << "fused " << fused.dk;
  EXPECT_LT(flash.dv, 1.5 * fused.dv + 1e-3) << "fused " << fused.dv;
  EXPECT_LT(flash.out, 2e-2);
  EXPECT_LT(flash.dq, 3e-2);
}

// Short enough for compute-sanitizer (tools/device_gpu_suite.sh flash).
TEST_F(SoftcapAttentionCuda, FlashKernelsShortSequences) {
  for (const auto& sh :
       {FlashShape{8, 4, 37, 256, 4096}, FlashShape{8, 4, 300, 256, 4096}, FlashShape{8, 2, 300, 64, 100}})
    expect_flash_as_close_as_fused(sh);
}

TEST_F(SoftcapAttentionCuda, FlashKernelsGemma2Length) { expect_flash_as_close_as_fused({8, 4, 1900, 256, 512}); }

}  // namespace
}  // namespace arena
