#include "model/nn/softcap_attention.h"

#include <torch/torch.h>

#include <algorithm>
#include <atomic>

#include "common/error.h"
#include "model/nn/attention_chunks.h"

#ifdef ARENA_WITH_CUDA
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>

#include "model/cuda/attention_kernels.h"
#include "model/cuda/cuda_util.h"
#include "model/cuda/flash_attention.h"
#endif

namespace arena {
namespace {

std::atomic<AttentionKernel> g_kernel{AttentionKernel::kAuto};

}  // namespace

void set_attention_kernel(AttentionKernel kernel) { g_kernel.store(kernel); }
AttentionKernel attention_kernel() { return g_kernel.load(); }

bool use_chunked_attention(const torch::Tensor& q) {
  const auto t = q.scalar_type();
  return g_kernel.load() != AttentionKernel::kEager && q.is_cpu() &&
         (t == torch::kFloat32 || t == torch::kFloat64 || t == torch::kBFloat16);
}

torch::Tensor eager_softcap_attention(const torch::Tensor& q, const torch::Tensor& k_in, const torch::Tensor& v_in,
                                      const torch::Tensor& bias, double scale, double cap) {
  RECORD_USER_SCOPE("arena::attention");  // names the eager core in profiles (bench_train_step)
  const int64_t b = q.size(0), heads = q.size(1), kv_heads = k_in.size(1), keys = k_in.size(2), d = q.size(3);
  auto k = k_in;
  auto v = v_in;
  if (heads != kv_heads) {
    // Query head h reads KV head h / groups. expand+reshape (not repeat_interleave): its backward
    // is a plain sum over the group, not an index scatter.
    const auto widen = [&](const torch::Tensor& t) {
      return t.unsqueeze(2).expand({b, kv_heads, heads / kv_heads, keys, d}).reshape({b, heads, keys, d});
    };
    k = widen(k);
    v = widen(v);
  }
  auto scores = torch::matmul(q, k.transpose(2, 3)) * scale;  // [B, H, queries, keys]
  if (cap > 0) scores = torch::tanh(scores / cap) * cap;
  scores = scores + bias;
  // The softmax in fp32 as transformers takes it (fp64 inputs, the tests' reference, stay fp64).
  const auto softmax_type = q.scalar_type() == torch::kFloat64 ? torch::kFloat64 : torch::kFloat32;
  const auto probs = torch::softmax(scores, -1, softmax_type).to(q.scalar_type());
  return torch::matmul(probs, v).transpose(1, 2).contiguous();
}

#ifdef ARENA_WITH_CUDA
namespace {

cuda::OutType storage_type(torch::ScalarType t) { return cuda_storage_type(t, "softcap_attention"); }

// Shapes of one call, shared by forward and backward.
struct Dims {
  int64_t b, h, kv, s, d;
  int64_t groups() const { return h / kv; }
};

// Queries are laid out [B·KV, S·G, D], position-major inside each KV head: row s·G + g is query
// head kv·G + g at position s. Each KV head meets its G query heads in one batched GEMM (no
// expanded k/v), and a chunk of positions is one contiguous block of rows.
torch::Tensor position_major(const torch::Tensor& t, const Dims& n) {  // [B, H, S, D]
  const auto grouped = t.reshape({n.b, n.kv, n.groups(), n.s, n.d});
  return grouped.transpose(2, 3).contiguous().view({n.b * n.kv, n.s * n.groups(), n.d});
}

// k or v [B, KV, S, D], any strides (v arrives as a transposed view of v_proj's output), as
// [B·KV, padded_keys(S), D] with zero rows after S (attention_chunks.h: probabilities are exactly 0
// there), in one copy; no copy when it is contiguous already and S needs no padding.
torch::Tensor padded_heads(const torch::Tensor& t, const Dims& n) {
  const int64_t keys = padded_keys(n.s);
  if (keys == n.s && t.is_contiguous()) return t.view({n.b * n.kv, n.s, n.d});
  auto out = torch::empty({n.b * n.kv, keys, n.d}, t.options());
  auto heads = out.view({n.b, n.kv, keys, n.d});
  heads.narrow(2, 0, n.s).copy_(t);
  if (keys > n.s) heads.narrow(2, n.s, keys - n.s).zero_();
  return out;
}

// One chunk of query positions (attention_chunks.h) in the position-major layout: its rows, and
// the keys it sees under the causal bias.
struct ChunkRows {
  int64_t row0, rows;  // rows in [B·KV, S·G, ...]
  int64_t keys, ld;    // keys [0, keys), buffers padded to ld columns
};

ChunkRows chunk_rows(const Dims& n, const AttentionChunk& c) {
  const int64_t keys = std::min(c.end, n.s);
  return {c.begin * n.groups(), c.positions() * n.groups(), keys, padded_keys(keys)};
}

// The bias as the row kernels read it (attention_kernels.h): q's dtype, 16-byte aligned rows at a
// stride of padded_keys(S). attention_bias() builds it that way; anything else is copied.
torch::Tensor row_aligned_bias(const torch::Tensor& bias, torch::ScalarType dtype) {
  const int64_t s = bias.size(3);
  const bool aligned = bias.scalar_type() == dtype && bias.stride(3) == 1 && bias.stride(2) >= padded_keys(s) &&
                       bias.stride(2) % 8 == 0 && (bias.size(0) == 1 || bias.stride(0) % 8 == 0) &&
                       reinterpret_cast<uintptr_t>(bias.data_ptr()) % 16 == 0;
  // The kernels read padded_keys(S) columns of every row, the last row's included.
  const int64_t last_row = (bias.size(0) - 1) * bias.stride(0) + (bias.size(2) - 1) * bias.stride(2);
  const bool readable = static_cast<int64_t>(bias.storage().nbytes()) >=
                        (bias.storage_offset() + last_row + padded_keys(s)) * static_cast<int64_t>(bias.element_size());
  if (aligned && readable) return bias;
  auto out = torch::empty({bias.size(0), 1, bias.size(2), padded_keys(s)}, bias.options().dtype(dtype)).narrow(3, 0, s);
  out.copy_(bias);
  return out;
}

int64_t bias_batch_stride(const torch::Tensor& bias) { return bias.size(0) == 1 ? 0 : bias.stride(0); }

cuda::SoftmaxRows softmax_rows(const Dims& n, const ChunkRows& c, const torch::Tensor& bias) {
  return {n.b * n.kv, n.kv, n.groups(), n.groups() * n.s, c.row0, c.rows, c.keys, bias.stride(2), c.ld};
}

// An uninitialized [B·KV, rows, ld] buffer.
torch::Tensor square_buffer(const Dims& n, const ChunkRows& c, const torch::TensorOptions& options) {
  return torch::empty({n.b * n.kv, c.rows, c.ld}, options);
}

bool aligned16(const torch::Tensor& t) { return reinterpret_cast<uintptr_t>(t.data_ptr()) % 16 == 0; }

// Whether the flash kernels run (AttentionKernel::kFlash) for these laid-out operands.
bool use_flash(const torch::Tensor& q3, const torch::Tensor& k3, const torch::Tensor& v3) {
  return g_kernel.load() == AttentionKernel::kFlash && q3.scalar_type() == torch::kBFloat16 &&
         cuda::flash_attention_supports(q3.size(2)) && aligned16(q3) && aligned16(k3) && aligned16(v3);
}

// The forward of the fused core: query chunks (plan_attention_chunks), each a GEMM into an S×S
// buffer, the row kernel, a GEMM out. Fills out and lse; returns the scores when the plan has one
// chunk (backward keeps them), else nothing.
torch::Tensor chunked_forward(const Dims& n, const torch::Tensor& q3, const torch::Tensor& k3, const torch::Tensor& v3,
                              const torch::Tensor& b4, torch::Tensor& out, torch::Tensor& lse, double scale,
                              double cap) {
  const auto chunks = plan_attention_chunks(n.b, n.h, n.s, q3.element_size());
  const auto stream = c10::cuda::getCurrentCUDAStream().stream();
  torch::Tensor scores;
  for (const auto& chunk : chunks) {
    const auto c = chunk_rows(n, chunk);
    scores = square_buffer(n, c, q3.options());
    torch::bmm_out(scores, q3.narrow(1, c.row0, c.rows), k3.narrow(1, 0, c.ld).transpose(1, 2));
    auto probs = square_buffer(n, c, q3.options());
    cuda::softcap_softmax_forward(scores.data_ptr(), b4.data_ptr(), bias_batch_stride(b4), probs.data_ptr(),
                                  lse.data_ptr<float>(), storage_type(q3.scalar_type()), softmax_rows(n, c, b4),
                                  static_cast<float>(scale), static_cast<float>(cap), stream);
    check_cuda_launch("softcap_softmax_forward");
    auto out_rows = out.narrow(1, c.row0, c.rows);  // batch-strided: cuBLAS writes it in place
    torch::bmm_out(out_rows, probs, v3.narrow(1, 0, c.ld));
  }
  return chunks.size() == 1 ? scores : torch::Tensor();
}

// The forward in one kernel (model/cuda/flash_forward.cuh): out and lse, no S×S buffer.
void flash_forward(const Dims& n, const torch::Tensor& q3, const torch::Tensor& k3, const torch::Tensor& v3,
                   const torch::Tensor& b4, torch::Tensor& out, torch::Tensor& lse, double scale, double cap) {
  cuda::flash_attention_forward({q3.data_ptr(), k3.data_ptr(), v3.data_ptr(), b4.data_ptr(), out.data_ptr(),
                                 lse.data_ptr<float>(), n.b * n.kv, n.kv, n.groups(), n.s, n.d, k3.size(1),
                                 bias_batch_stride(b4), b4.stride(2), static_cast<float>(scale),
                                 static_cast<float>(cap)},
                                current_cuda_stream());
  check_cuda_launch("flash_attention_forward");
}

struct Gradients {
  torch::Tensor dq;      // [B·KV, S·G, D], the position-major layout
  torch::Tensor dk, dv;  // [B·KV, S, D]
};

// The fused core's backward, chunk by chunk (the last first: it sees every key, so its key
// gradients start the fp32 sums). Recomputes each chunk's scores unless the forward kept them.
Gradients chunked_backward(const Dims& n, const torch::Tensor& q3, const torch::Tensor& k3, const torch::Tensor& v3,
                           const torch::Tensor& lse, const torch::Tensor& b4, const torch::Tensor& saved_scores,
                           const torch::Tensor& d_out, double scale, double cap) {
  const auto chunks = plan_attention_chunks(n.b, n.h, n.s, q3.element_size());
  const auto stream = c10::cuda::getCurrentCUDAStream().stream();
  auto dq = torch::empty_like(q3);
  torch::Tensor dk, dv;  // fp32 sums over the chunks (one chunk: the GEMM results as they are)
  for (auto it = chunks.rbegin(); it != chunks.rend(); ++it) {
    const auto c = chunk_rows(n, *it);
    const auto qc = q3.narrow(1, c.row0, c.rows);
    const auto doc = d_out.narrow(1, c.row0, c.rows);
    const auto kc = k3.narrow(1, 0, c.ld);
    const auto vc = v3.narrow(1, 0, c.ld);
    auto scores = saved_scores;
    if (!scores.defined()) {
      scores = square_buffer(n, c, q3.options());
      torch::bmm_out(scores, qc, kc.transpose(1, 2));
    }
    auto d_scores = square_buffer(n, c, q3.options());  // dP, overwritten in place by dS
    torch::bmm_out(d_scores, doc, vc.transpose(1, 2));
    auto probs = square_buffer(n, c, q3.options());
    cuda::softcap_softmax_backward(scores.data_ptr(), b4.data_ptr(), bias_batch_stride(b4), lse.data_ptr<float>(),
                                   d_scores.data_ptr(), probs.data_ptr(), d_scores.data_ptr(),
                                   storage_type(q3.scalar_type()), softmax_rows(n, c, b4), static_cast<float>(scale),
                                   static_cast<float>(cap), stream);
    check_cuda_launch("softcap_softmax_backward");
    auto dq_rows = dq.narrow(1, c.row0, c.rows);
    torch::bmm_out(dq_rows, d_scores, kc);
    // GQA: the group's rows are summed by the GEMMs themselves (reduction over the G·positions).
    auto dv_part = torch::bmm(probs.transpose(1, 2), doc);  // [B·KV, ld, D]
    auto dk_part = torch::bmm(d_scores.transpose(1, 2), qc);
    if (chunks.size() == 1) {
      dv = dv_part;
      dk = dk_part;
    } else if (!dv.defined()) {
      dv = dv_part.to(torch::kFloat32);
      dk = dk_part.to(torch::kFloat32);
    } else {
      dv.narrow(1, 0, c.ld).add_(dv_part);
      dk.narrow(1, 0, c.ld).add_(dk_part);
    }
  }
  return {dq, dk.narrow(1, 0, n.s).to(q3.scalar_type()), dv.narrow(1, 0, n.s).to(q3.scalar_type())};
}

// The backward in two kernels (model/cuda/flash_backward.cuh). out: the forward's result [B, S, H, D].
Gradients flash_backward(const Dims& n, const torch::Tensor& q3, const torch::Tensor& k3, const torch::Tensor& v3,
                         const torch::Tensor& lse, const torch::Tensor& b4, const torch::Tensor& out,
                         const torch::Tensor& d_out, double scale, double cap) {
  auto dq = torch::empty_like(q3);
  auto dk = torch::empty_like(k3);
  auto dv = torch::empty_like(v3);
  auto delta = torch::empty_like(lse);
  const auto o = out.contiguous();
  cuda::flash_attention_backward({q3.data_ptr(), k3.data_ptr(), v3.data_ptr(), b4.data_ptr(), o.data_ptr(),
                                  d_out.data_ptr(), lse.data_ptr<float>(), delta.data_ptr<float>(), dq.data_ptr(),
                                  dk.data_ptr(), dv.data_ptr(), n.b * n.kv, n.kv, n.groups(), n.s, n.d, k3.size(1),
                                  bias_batch_stride(b4), b4.stride(2), static_cast<float>(scale),
                                  static_cast<float>(cap)},
                                 current_cuda_stream());
  check_cuda_launch("flash_attention_backward");
  return {dq, dk.narrow(1, 0, n.s), dv.narrow(1, 0, n.s)};
}

// The fused core, or the flash kernels under AttentionKernel::kFlash. The fused core's S×S work
// runs in chunks of query positions (plan_attention_chunks): each chunk's buffers hold only the
// keys its causal rows can see. With one chunk the forward keeps its scores for backward; with
// several it saves no scores (only lse) and backward recomputes each chunk's q·kᵀ: one more GEMM
// of the six, for a peak of 3 chunk buffers. The flash kernels keep no S×S buffer at all; their
// backward reads the forward's output (saved as the output it is: no extra memory).
struct SoftcapAttention : public torch::autograd::Function<SoftcapAttention> {
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& q, const torch::Tensor& k,
                               const torch::Tensor& v, const torch::Tensor& bias, double scale, double cap) {
    RECORD_USER_SCOPE("arena::attention");
    const Dims n{q.size(0), q.size(1), k.size(1), q.size(2), q.size(3)};
    c10::cuda::CUDAGuard device_guard(q.device());
    const auto q3 = position_major(q, n);
    const auto k3 = padded_heads(k, n);
    const auto v3 = padded_heads(v, n);
    const auto b4 = row_aligned_bias(bias, q.scalar_type());
    auto lse = torch::empty({n.b * n.kv * n.groups() * n.s}, q.options().dtype(torch::kFloat32));
    auto out = torch::empty_like(q3);
    const bool flash = use_flash(q3, k3, v3);
    torch::Tensor scores;
    if (flash) {
      flash_forward(n, q3, k3, v3, b4, out, lse, scale, cap);
    } else {
      scores = chunked_forward(n, q3, k3, v3, b4, out, lse, scale, cap);
    }
    // [B·KV, S, G, D] -> [B, S, KV·G, D]: the layout o_proj reads, in one copy.
    auto result = out.view({n.b, n.kv, n.s, n.groups(), n.d}).permute({0, 2, 1, 3, 4}).reshape({n.b, n.s, n.h, n.d});
    ctx->save_for_backward({q3, k3, v3, lse, b4, flash ? result : scores});
    ctx->saved_data["dims"] = std::vector<int64_t>{n.b, n.h, n.kv, n.s, n.d};
    ctx->saved_data["scale"] = scale;
    ctx->saved_data["cap"] = cap;
    ctx->saved_data["flash"] = flash;
    return result;
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grad_out) {
    RECORD_USER_SCOPE("arena::attention");
    const auto saved = ctx->get_saved_variables();
    const auto& q3 = saved[0];
    const auto dims = ctx->saved_data["dims"].toIntVector();
    const Dims n{dims[0], dims[1], dims[2], dims[3], dims[4]};
    const auto scale = ctx->saved_data["scale"].toDouble();
    const auto cap = ctx->saved_data["cap"].toDouble();
    c10::cuda::CUDAGuard device_guard(q3.device());

    // [B, S, KV·G, D] -> [B·KV, S·G, D], the forward's query layout.
    const auto d_out = grad_out[0]
                           .to(q3.scalar_type())
                           .reshape({n.b, n.s, n.kv, n.groups(), n.d})
                           .permute({0, 2, 1, 3, 4})
                           .contiguous()
                           .view({n.b * n.kv, n.s * n.groups(), n.d});
    const auto g = ctx->saved_data["flash"].toBool()
                       ? flash_backward(n, q3, saved[1], saved[2], saved[3], saved[4], saved[5], d_out, scale, cap)
                       : chunked_backward(n, q3, saved[1], saved[2], saved[3], saved[4], saved[5], d_out, scale, cap);
    const auto dq4 = g.dq.view({n.b, n.kv, n.s, n.groups(), n.d}).transpose(2, 3).reshape({n.b, n.h, n.s, n.d});
    return {dq4, g.dk.reshape({n.b, n.kv, n.s, n.d}), g.dv.reshape({n.b, n.kv, n.s, n.d}), torch::Tensor(),
            torch::Tensor(), torch::Tensor()};
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
