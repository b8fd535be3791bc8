// What one decoder layer keeps for its backward pass, part by part: the question behind a
// "selective" recomputation (recompute only the cheap element-wise parts and keep the GEMM
// outputs). One Gemma-2-2B layer with NF4 projections and LoRA on all seven, on the CPU, runs
// its forward step by step as DecoderLayerImpl::forward and AttentionImpl::forward do (the CPU's
// chunked attention core; the GPU's fused core keeps the same q, k, v and output, plus its
// log-sum-exp). For each step it prints:
//   - inside: bytes the step's autograd nodes hold beyond its output (GeGLU's gate and up, ...);
//   - output: whether a later node keeps the step's output (found by dropping the bench's own
//     reference and seeing whether the bytes are freed).
// Sizes are in values per token (bytes / token / element size). The sum is checked against what
// layer.forward() itself keeps, and recompute_layer()'s figure is printed beside it.
#include <torch/torch.h>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <functional>
#include <string>
#include <vector>

#include "bench/cpu_peak_allocator.h"
#include "model/gemma/classifier.h"
#include "model/gemma/recompute.h"
#include "model/nn/attention_mask.h"
#include "model/nn/chunked_attention.h"
#include "model/nn/fused_ops.h"
#include "model/nn/rotary.h"
#include "model/peft/qlora.h"

namespace {

struct Step {
  std::string name, kind;  // kind: what computes the output (GEMM, element-wise, attention core)
  torch::Tensor out;
  double inside = 0;        // values per token held by the step's nodes beyond the output
  double output = 0;        // the output's values per token
  double output_kept = 0;   // the part of it a later node keeps
};

}  // namespace

int main(int argc, char** argv) {
  int64_t tokens = 512, rank = 16;
  std::string dtype_name = "bf16";
  CLI::App app{"What one Gemma-2-2B decoder layer (NF4 + LoRA) keeps for backward, part by part"};
  app.add_option("--tokens", tokens, "sequence length (one row)");
  app.add_option("--rank", rank, "LoRA rank r on all seven projections");
  app.add_option("--dtype", dtype_name, "f32 or bf16")->check(CLI::IsMember({"f32", "bf16"}));
  CLI11_PARSE(app, argc, argv);
  torch::set_num_threads(1);
  auto& alloc = arena::bench::CpuPeakAllocator::install();

  torch::manual_seed(0);
  auto c = arena::gemma2_2b_config(2);
  c.num_hidden_layers = 1;
  c.vocab_size = 1024;  // the embedding plays no part here
  c.sliding_layers.assign(1, false);
  const auto dtype = dtype_name == "bf16" ? torch::kBFloat16 : torch::kFloat32;
  const auto opts = torch::TensorOptions().dtype(dtype);
  arena::GemmaClassifier model(c, opts);
  arena::QloraOptions q;
  q.first_layer = 0;
  q.lora.rank = rank;
  q.lora.alpha = 2.0 * static_cast<double>(rank);
  arena::apply_qlora(*model, q);
  model->train();
  auto& layer = *model->model->layers[0];
  auto& attn = *layer.self_attn;

  const auto x = torch::randn({1, tokens, c.hidden_size}, opts).requires_grad_(true);
  const auto [cos, sin] =
      arena::rotary_tables(torch::arange(tokens).unsqueeze(0), c.head_dim, c.rope_theta, dtype, 1.0);
  const auto bias = arena::attention_bias(torch::ones({1, tokens}, torch::kInt64), /*window=*/0, dtype);
  const double per_token = static_cast<double>(tokens) * static_cast<double>(torch::elementSize(dtype));
  const auto values = [&](int64_t bytes) { return static_cast<double>(bytes) / per_token; };
  const auto nbytes = [](const torch::Tensor& t) { return t.numel() * static_cast<int64_t>(t.element_size()); };

  // The layer's forward, one step at a time.
  std::vector<Step> steps;
  const int64_t start = alloc.current();
  const auto run = [&](const char* name, const char* kind, const std::function<torch::Tensor()>& f) {
    const int64_t before = alloc.current();
    auto out = f();
    steps.push_back({name, kind, out, values(alloc.current() - before - nbytes(out)), values(nbytes(out))});
    return out;
  };
  const int64_t s = tokens, d = c.head_dim, heads = c.num_attention_heads, kv = c.num_key_value_heads;
  const auto rotate = [&](const torch::Tensor& y, int64_t n) {
    return arena::use_fused_elementwise(y) ? arena::rotary_heads_fused(y, cos, sin, n)
                                           : arena::apply_rotary(y.view({1, s, n, d}).transpose(1, 2), cos, sin);
  };
  {
    const auto n1 = run("input_layernorm", "element-wise", [&] { return layer.input_layernorm(x); });
    const auto qp = run("q_proj", "GEMM", [&] { return attn.q_proj(n1); });
    const auto kp = run("k_proj", "GEMM", [&] { return attn.k_proj(n1); });
    const auto vp = run("v_proj", "GEMM", [&] { return attn.v_proj(n1); });
    const auto qr = run("rotary q", "element-wise", [&] { return rotate(qp, heads); });
    const auto kr = run("rotary k", "element-wise", [&] { return rotate(kp, kv); });
    const auto core = run("attention core", "attention", [&] {
      return arena::chunked_softcap_attention(qr, kr, vp.view({1, s, kv, d}).transpose(1, 2), bias,
                                              1.0 / std::sqrt(c.query_pre_attn_scalar), c.attn_logit_softcapping, 0);
    });
    const auto o = run("o_proj", "GEMM", [&] { return attn.o_proj(core.view({1, s, heads * d})); });
    const auto pn = run("post_attention_layernorm", "element-wise", [&] { return layer.post_attention_layernorm(o); });
    const auto h = run("residual", "element-wise", [&] { return x + pn; });
    const auto n2 = run("pre_feedforward_layernorm", "element-wise", [&] { return layer.pre_feedforward_layernorm(h); });
    const auto m = run("mlp (gate, up, GeGLU, down)", "GEMM", [&] { return layer.mlp(n2); });
    const auto pf = run("post_feedforward_layernorm", "element-wise", [&] { return layer.post_feedforward_layernorm(m); });
    run("residual (the layer's output)", "element-wise", [&] { return h + pf; });
  }
  // Drop the bench's references in order (the last output stays); what is not freed, the graph keeps.
  for (size_t i = 0; i + 1 < steps.size(); ++i) {
    const int64_t before = alloc.current();
    const int64_t bytes = nbytes(steps[i].out);
    steps[i].out = torch::Tensor();
    steps[i].output_kept = values(bytes - (before - alloc.current()));
  }
  const double stepwise = values(alloc.current() - start) - steps.back().output;

  fmt::print("One Gemma-2-2B decoder layer, NF4 + LoRA r={} on all seven projections, {} x {} tokens, CPU\n", rank,
             dtype_name, tokens);
  fmt::print("kept for backward, values per token (hidden size {}):\n", c.hidden_size);
  fmt::print("{:<32} {:<13} {:>8} {:>8} {:>8}\n", "step", "output from", "inside", "output", "kept");
  double by_kind_gemm = 0, by_kind_elementwise = 0, by_kind_attention = 0, total = 0;
  for (const auto& st : steps) {
    const bool last = &st == &steps.back();
    fmt::print("{:<32} {:<13} {:>8.0f} {:>8.0f} {:>8}\n", st.name, st.kind, st.inside, st.output,
               last ? "(out)" : fmt::format("{:.0f}", st.output_kept));
    const double kept = st.inside + (last ? 0.0 : st.output_kept);
    total += kept;
    // Inside a step counts with the step's kind, except the MLP's, which is GeGLU's gate and up: GEMM outputs.
    (st.kind == "GEMM" ? by_kind_gemm : st.kind == "attention" ? by_kind_attention : by_kind_elementwise) += kept;
  }
  fmt::print("{:<32} {:>8.0f} = {:.1f} x hidden: GEMM outputs {:.0f} ({:.1f} %), attention core {:.0f} ({:.1f} %), "
             "element-wise outputs {:.0f} ({:.1f} %)\n",
             "total, step by step", total, total / static_cast<double>(c.hidden_size), by_kind_gemm,
             100 * by_kind_gemm / total, by_kind_attention, 100 * by_kind_attention / total, by_kind_elementwise,
             100 * by_kind_elementwise / total);
  if (std::abs(stepwise - total) > 1) fmt::print("warning: allocator total {:.0f} differs from the sum\n", stepwise);
  steps.clear();

  const auto keeps = [&](const std::function<torch::Tensor()>& f) {
    const int64_t before = alloc.current();
    const auto y = f();
    return values(alloc.current() - before - nbytes(y));
  };
  const double plain = keeps([&] { return layer.forward(x, cos, sin, bias); });
  const double recomputed = keeps([&] { return arena::recompute_layer(layer, x, cos, sin, bias); });
  fmt::print("{:<32} {:>8.0f}\n", "layer.forward() keeps", plain);
  fmt::print("{:<32} {:>8.0f}   (the layer's input, and the rotary tables and mask it shares)\n",
             "recompute_layer() keeps", recomputed);
  return std::abs(plain - total) > 1 ? 1 : 0;
}
