#include "model/nn/chunked_attention.h"

#include <torch/torch.h>

#include "common/error.h"
#include "model/nn/attention_chunks.h"

namespace arena {
namespace {

struct Shape {
  int64_t b, h, kv, s, d;
  int64_t groups() const { return h / kv; }
};

// The eager chain's softmax dtype: fp32, or fp64 for fp64 inputs (the tests' reference).
torch::ScalarType softmax_dtype(torch::ScalarType t) { return t == torch::kFloat64 ? torch::kFloat64 : torch::kFloat32; }

// A chunk's rows of a [B, KV, G, S, D] tensor (queries, output gradients) as [B·KV, G·P, D]: each
// KV head meets its G query heads in one batched GEMM, without expanded copies of k and v.
torch::Tensor chunk_rows(const torch::Tensor& t5, const AttentionChunk& c, const Shape& n) {
  return t5.narrow(3, c.begin, c.positions()).reshape({n.b * n.kv, n.groups() * c.positions(), n.d});
}

// The keys (or values) a chunk reads, [B·KV, keys, D]: a view of [B·KV, S, D].
torch::Tensor chunk_keys(const torch::Tensor& t3, const AttentionChunk& c) { return t3.narrow(1, c.key_begin, c.keys()); }

struct ChunkProbs {
  torch::Tensor probs;  // [B·KV, G·P, keys] in softmax_dtype
  torch::Tensor tanh;   // tanh(s·scale/cap) in q's dtype, when asked for and cap > 0
};

// The eager chain's steps on one chunk, in place on its score buffer.
ChunkProbs chunk_probs(const torch::Tensor& qc, const torch::Tensor& kc, const torch::Tensor& bias,
                       const AttentionChunk& c, const Shape& n, double scale, double cap, bool keep_tanh) {
  auto z = torch::bmm(qc, kc.transpose(1, 2));
  z.mul_(scale);
  ChunkProbs out;
  if (cap > 0) {
    z.div_(cap).tanh_();
    if (keep_tanh) out.tanh = z.clone();
    z.mul_(cap);
  }
  const auto chunk_bias = bias.narrow(2, c.begin, c.positions()).narrow(3, c.key_begin, c.keys()).unsqueeze(1);
  z.view({n.b, n.kv, n.groups(), c.positions(), c.keys()}).add_(chunk_bias);  // [B|1, 1, 1, P, keys]
  out.probs = torch::softmax(z, -1, softmax_dtype(z.scalar_type()));
  return out;
}

struct ChunkedAttention : public torch::autograd::Function<ChunkedAttention> {
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& q, const torch::Tensor& k,
                               const torch::Tensor& v, const torch::Tensor& bias, double scale, double cap,
                               int64_t window) {
    RECORD_USER_SCOPE("arena::attention");
    const Shape n{q.size(0), q.size(1), k.size(1), q.size(2), q.size(3)};
    const auto q5 = q.reshape({n.b, n.kv, n.groups(), n.s, n.d});
    const auto k3 = k.reshape({n.b * n.kv, n.s, n.d});  // a copy when k or v is a transposed view
    const auto v3 = v.reshape({n.b * n.kv, n.s, n.d});
    auto out = torch::empty({n.b, n.s, n.h, n.d}, q.options());
    const auto out5 = out.view({n.b, n.s, n.kv, n.groups(), n.d});
    for (const auto& c : plan_cpu_attention_chunks(n.b, n.h, n.s, q.element_size(), window)) {
      const auto probs = chunk_probs(chunk_rows(q5, c, n), chunk_keys(k3, c), bias, c, n, scale, cap, false).probs;
      const auto rows = torch::bmm(probs.to(q.scalar_type()), chunk_keys(v3, c));  // [B·KV, G·P, D]
      out5.narrow(1, c.begin, c.positions())
          .copy_(rows.view({n.b, n.kv, n.groups(), c.positions(), n.d}).permute({0, 3, 1, 2, 4}));
    }
    ctx->save_for_backward({q5, k3, v3, bias});
    ctx->saved_data["dims"] = std::vector<int64_t>{n.b, n.h, n.kv, n.s, n.d};
    ctx->saved_data["scale"] = scale;
    ctx->saved_data["cap"] = cap;
    ctx->saved_data["window"] = window;
    return out;
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grad_out) {
    RECORD_USER_SCOPE("arena::attention");
    const auto saved = ctx->get_saved_variables();
    const auto& q5 = saved[0];
    const auto& k3 = saved[1];
    const auto& v3 = saved[2];
    const auto& bias = saved[3];
    const auto dims = ctx->saved_data["dims"].toIntVector();
    const Shape n{dims[0], dims[1], dims[2], dims[3], dims[4]};
    const double scale = ctx->saved_data["scale"].toDouble();
    const double cap = ctx->saved_data["cap"].toDouble();
    const int64_t window = ctx->saved_data["window"].toInt();
    const auto dtype = q5.scalar_type();
    const auto sm_dtype = softmax_dtype(dtype);

    // [B, S, KV·G, D] -> [B, KV, G, S, D], a view; chunk_rows copies each chunk's rows.
    const auto g5 = grad_out[0].to(dtype).reshape({n.b, n.s, n.kv, n.groups(), n.d}).permute({0, 2, 3, 1, 4});
    auto dq5 = torch::empty({n.b, n.kv, n.groups(), n.s, n.d}, q5.options());
    // Key and value gradients are sums over the chunks: fp32 for 16-bit inputs.
    const auto acc_dtype = c10::elementSize(dtype) < 4 ? torch::kFloat32 : dtype;
    auto dk = torch::zeros({n.b * n.kv, n.s, n.d}, q5.options().dtype(acc_dtype));
    auto dv = torch::zeros_like(dk);
    for (const auto& c : plan_cpu_attention_chunks(n.b, n.h, n.s, q5.element_size(), window)) {
      const auto qc = chunk_rows(q5, c, n);
      const auto gc = chunk_rows(g5, c, n);
      const auto kc = chunk_keys(k3, c);
      const auto vc = chunk_keys(v3, c);
      const auto p = chunk_probs(qc, kc, bias, c, n, scale, cap, true);
      const auto probs = p.probs.to(dtype);
      // Back through ·v, the softmax, +bias, ·cap, tanh, /cap and ·scale, in the eager chain's dtypes.
      const auto d_probs = torch::bmm(gc, vc.transpose(1, 2));
      auto d = torch::_softmax_backward_data(d_probs.to(sm_dtype), p.probs, -1, sm_dtype).to(dtype);
      if (cap > 0) d = torch::tanh_backward(d.mul_(cap), p.tanh).div_(cap);
      d.mul_(scale);
      dq5.narrow(3, c.begin, c.positions())
          .copy_(torch::bmm(d, kc).view({n.b, n.kv, n.groups(), c.positions(), n.d}));
      dk.narrow(1, c.key_begin, c.keys()).add_(torch::bmm(d.transpose(1, 2), qc));
      dv.narrow(1, c.key_begin, c.keys()).add_(torch::bmm(probs.transpose(1, 2), gc));
    }
    return {dq5.view({n.b, n.h, n.s, n.d}),
            dk.to(dtype).view({n.b, n.kv, n.s, n.d}),
            dv.to(dtype).view({n.b, n.kv, n.s, n.d}),
            torch::Tensor(),
            torch::Tensor(),
            torch::Tensor(),
            torch::Tensor()};
  }
};

}  // namespace

torch::Tensor chunked_softcap_attention(const torch::Tensor& q, const torch::Tensor& k, const torch::Tensor& v,
                                        const torch::Tensor& bias, double scale, double cap, int64_t window) {
  check(q.dim() == 4 && k.dim() == 4 && v.sizes() == k.sizes(),
        "chunked_softcap_attention: expected q [B,H,S,D], k/v [B,KV,S,D]");
  check(q.size(0) == k.size(0) && q.size(2) == k.size(2) && q.size(3) == k.size(3) && q.size(1) % k.size(1) == 0,
        "chunked_softcap_attention: q [{}] and k [{}] do not match", fmt::join(q.sizes(), ", "),
        fmt::join(k.sizes(), ", "));
  const int64_t s = q.size(2);
  check(bias.dim() == 4 && (bias.size(0) == q.size(0) || bias.size(0) == 1) && bias.size(1) == 1 &&
            bias.size(2) == s && bias.size(3) == s,
        "chunked_softcap_attention: bias has shape [{}], expected [{}|1, 1, {}, {}]", fmt::join(bias.sizes(), ", "),
        q.size(0), s, s);
  return ChunkedAttention::apply(q, k, v, bias, scale, cap, window);
}

}  // namespace arena
