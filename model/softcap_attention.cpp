#include "model/softcap_attention.h"

#include <torch/torch.h>

#include <algorithm>
#include <atomic>

#include "common/error.h"

#ifdef ARENA_WITH_CUDA
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>

#include "model/attention_kernels.h"
#include "model/cuda_util.h"
#endif

namespace arena {
namespace {

std::atomic<AttentionKernel> g_kernel{AttentionKernel::kAuto};

}  // namespace

void set_attention_kernel(AttentionKernel kernel) { g_kernel.store(kernel); }
AttentionKernel attention_kernel() { return g_kernel.load(); }

#ifdef ARENA_WITH_CUDA
namespace {

cuda::OutType storage_type(torch::ScalarType t) { return cuda_storage_type(t, "softcap_attention"); }

// Shapes of one call, shared by forward and backward.
struct Dims {
  int64_t b, h, kv, s, d;
  int64_t groups() const { return h / kv; }
};

// Keys padded to a multiple of 8 (zero keys and values, probabilities exactly 0 there): with
// S = 1900 an unpadded [S×S] row is only 8-byte aligned and a GEMM reduction of length 1900 is
// not a multiple of 8, and cuBLAS then falls back to slow align-1/2 kernels for the attention
// GEMMs. Chunks of query rows are multiples of 64 for the same reason.
int64_t padded(int64_t s) { return (s + 7) / 8 * 8; }

torch::Tensor pad_keys(const torch::Tensor& t, int64_t keys) {  // [N, S, D] -> [N, keys, D]
  if (t.size(1) == keys) return t;
  auto out = torch::zeros({t.size(0), keys, t.size(2)}, t.options());
  out.narrow(1, 0, t.size(1)).copy_(t);
  return out;
}

// The S×S buffers are processed in chunks of query rows, at most this many bytes each: without
// chunks, backward holds scores, dP/dS and P for all heads at once (3 × B·H·S²; 0.7 GB at
// B = 4, S = 1900). With several chunks the forward saves no scores (only lse) and backward
// recomputes each chunk's q·kᵀ: one more GEMM of the six, for a peak of 3 chunks.
constexpr int64_t kChunkBytes = int64_t{64} << 20;

int64_t chunk_rows(const Dims& n, int64_t element_size) {
  const int64_t rows = n.groups() * n.s;
  const int64_t per_row = n.b * n.kv * padded(n.s) * element_size;
  return std::min(rows, std::max<int64_t>(kChunkBytes / std::max<int64_t>(per_row, 1) / 64 * 64, 64));
}

cuda::SoftmaxRows chunk(const Dims& n, int64_t row0, int64_t rows) {
  return {n.b * n.kv, n.kv, n.groups() * n.s, row0, rows, n.s, n.s, padded(n.s)};
}

// An uninitialized [B·KV, rows, padded(S)] buffer.
torch::Tensor square_buffer(const Dims& n, int64_t rows, const torch::TensorOptions& options) {
  return torch::empty({n.b * n.kv, rows, padded(n.s)}, options);
}

struct SoftcapAttention : public torch::autograd::Function<SoftcapAttention> {
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& q, const torch::Tensor& k,
                               const torch::Tensor& v, const torch::Tensor& bias, double scale, double cap) {
    RECORD_USER_SCOPE("arena::attention");
    const Dims n{q.size(0), q.size(1), k.size(1), q.size(2), q.size(3)};
    c10::cuda::CUDAGuard device_guard(q.device());
    // [B, H, S, D] with h = kv·G + g is [B·KV, G·S, D]: each KV head meets its G query heads in
    // one batched GEMM, and the [B·KV, G·S, S] scores are laid out as [B, H, S, S].
    const auto q3 = q.contiguous().view({n.b * n.kv, n.groups() * n.s, n.d});
    const auto k3 = pad_keys(k.contiguous().view({n.b * n.kv, n.s, n.d}), padded(n.s));
    const auto v3 = pad_keys(v.contiguous().view({n.b * n.kv, n.s, n.d}), padded(n.s));
    const auto b4 = bias.to(q.scalar_type()).contiguous();
    const int64_t bstride = b4.size(0) == 1 ? 0 : n.s * n.s;
    const int64_t rows = n.groups() * n.s;
    const int64_t step = chunk_rows(n, q.element_size());
    const auto stream = c10::cuda::getCurrentCUDAStream().stream();
    auto lse = torch::empty({n.b * n.kv * rows}, q.options().dtype(torch::kFloat32));
    auto out = step >= rows ? torch::Tensor() : torch::empty_like(q3);
    torch::Tensor scores;  // kept for backward when there is one chunk
    for (int64_t r0 = 0; r0 < rows; r0 += step) {
      const int64_t len = std::min(step, rows - r0);
      scores = square_buffer(n, len, q.options());
      torch::bmm_out(scores, q3.narrow(1, r0, len), k3.transpose(1, 2));
      auto probs = square_buffer(n, len, q.options());
      cuda::softcap_softmax_forward(scores.data_ptr(), b4.data_ptr(), bstride, probs.data_ptr(), lse.data_ptr<float>(),
                                    storage_type(q.scalar_type()), chunk(n, r0, len), static_cast<float>(scale),
                                    static_cast<float>(cap), stream);
      check_cuda_launch("softcap_softmax_forward");
      if (step >= rows) {
        out = torch::bmm(probs, v3);
      } else {
        out.narrow(1, r0, len).copy_(torch::bmm(probs, v3));
      }
    }
    ctx->save_for_backward({q3, k3, v3, lse, b4, step >= rows ? scores : torch::Tensor()});
    ctx->saved_data["dims"] = std::vector<int64_t>{n.b, n.h, n.kv, n.s, n.d, step};
    ctx->saved_data["scale"] = scale;
    ctx->saved_data["cap"] = cap;
    return out.view({n.b, n.h, n.s, n.d});
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grad_out) {
    RECORD_USER_SCOPE("arena::attention");
    const auto saved = ctx->get_saved_variables();
    const auto& q3 = saved[0];
    const auto& k3 = saved[1];
    const auto& v3 = saved[2];
    const auto& lse = saved[3];
    const auto& b4 = saved[4];
    const auto& saved_scores = saved[5];
    const auto dims = ctx->saved_data["dims"].toIntVector();
    const Dims n{dims[0], dims[1], dims[2], dims[3], dims[4]};
    const int64_t step = dims[5];
    const auto scale = ctx->saved_data["scale"].toDouble();
    const auto cap = ctx->saved_data["cap"].toDouble();
    c10::cuda::CUDAGuard device_guard(q3.device());
    const auto stream = c10::cuda::getCurrentCUDAStream().stream();
    const int64_t bstride = b4.size(0) == 1 ? 0 : n.s * n.s;
    const int64_t rows = n.groups() * n.s;

    const auto d_out = grad_out[0].to(q3.scalar_type()).contiguous().view({n.b * n.kv, rows, n.d});
    auto dq = torch::empty_like(q3);
    torch::Tensor dk, dv;  // fp32 sums over the chunks (one chunk: the GEMM results as they are)
    for (int64_t r0 = 0; r0 < rows; r0 += step) {
      const int64_t len = std::min(step, rows - r0);
      const auto qc = q3.narrow(1, r0, len);
      const auto doc = d_out.narrow(1, r0, len);
      auto scores = saved_scores;
      if (!scores.defined()) {
        scores = square_buffer(n, len, q3.options());
        torch::bmm_out(scores, qc, k3.transpose(1, 2));
      }
      auto d_scores = square_buffer(n, len, q3.options());  // dP, overwritten in place by dS
      torch::bmm_out(d_scores, doc, v3.transpose(1, 2));
      auto probs = square_buffer(n, len, q3.options());
      cuda::softcap_softmax_backward(scores.data_ptr(), b4.data_ptr(), bstride, lse.data_ptr<float>(),
                                     d_scores.data_ptr(), probs.data_ptr(), d_scores.data_ptr(),
                                     storage_type(q3.scalar_type()), chunk(n, r0, len), static_cast<float>(scale),
                                     static_cast<float>(cap), stream);
      check_cuda_launch("softcap_softmax_backward");
      // GQA: the group's rows are summed by the GEMMs themselves (reduction over G·S).
      auto dv_part = torch::bmm(probs.transpose(1, 2), doc);
      auto dk_part = torch::bmm(d_scores.transpose(1, 2), qc);
      if (len == rows) {
        dq = torch::bmm(d_scores, k3);
        dv = dv_part;
        dk = dk_part;
      } else {
        dq.narrow(1, r0, len).copy_(torch::bmm(d_scores, k3));
        if (!dv.defined()) {
          dv = dv_part.to(torch::kFloat32);
          dk = dk_part.to(torch::kFloat32);
        } else {
          dv.add_(dv_part);
          dk.add_(dk_part);
        }
      }
    }
    dv = dv.narrow(1, 0, n.s).to(q3.scalar_type()).reshape({n.b, n.kv, n.s, n.d});
    dk = dk.narrow(1, 0, n.s).to(q3.scalar_type()).reshape({n.b, n.kv, n.s, n.d});
    return {dq.view({n.b, n.h, n.s, n.d}), dk, dv, torch::Tensor(), torch::Tensor(), torch::Tensor()};
  }
};

}  // namespace

bool use_fused_attention(const torch::Tensor& q, int64_t keys) {
  if (g_kernel.load() == AttentionKernel::kEager || !q.is_cuda()) return false;
  const auto t = q.scalar_type();
  return keys <= cuda::kSoftcapMaxKeys && (t == torch::kBFloat16 || t == torch::kFloat32 || t == torch::kFloat16);
}

torch::Tensor softcap_attention(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                                const torch::Tensor& bias, double scale, double cap) {
  check(q.is_cuda() && k.is_cuda() && v.is_cuda() && bias.is_cuda(), "softcap_attention: tensors must be on CUDA");
  check(q.dim() == 4 && k.dim() == 4 && v.sizes() == k.sizes(), "softcap_attention: expected q [B,H,S,D], k/v [B,KV,S,D]");
  check(q.size(0) == k.size(0) && q.size(2) == k.size(2) && q.size(3) == k.size(3) && q.size(1) % k.size(1) == 0,
        "softcap_attention: q [{}] and k [{}] do not match", fmt::join(q.sizes(), ", "), fmt::join(k.sizes(), ", "));
  const int64_t s = q.size(2);
  check(bias.dim() == 4 && (bias.size(0) == q.size(0) || bias.size(0) == 1) && bias.size(1) == 1 &&
            bias.size(2) == s && bias.size(3) == s,
        "softcap_attention: bias has shape [{}], expected [{}|1, 1, {}, {}]", fmt::join(bias.sizes(), ", "), q.size(0), s,
        s);
  check(s <= cuda::kSoftcapMaxKeys, "softcap_attention: {} keys, at most {} supported", s, cuda::kSoftcapMaxKeys);
  return SoftcapAttention::apply(q, k, v, bias, scale, cap);
}

#else

bool use_fused_attention(const torch::Tensor&, int64_t) { return false; }

torch::Tensor softcap_attention(const torch::Tensor&, const torch::Tensor&, const torch::Tensor&, const torch::Tensor&,
                                double, double) {
  throw Error("softcap_attention: this build has no CUDA kernels (configured with ARENA_WITH_CUDA=OFF)");
}

#endif

}  // namespace arena
