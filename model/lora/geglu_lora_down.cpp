#include "model/lora/geglu_lora_down.h"

#include <torch/torch.h>

#include <atomic>

#include "model/lora/lora_dropout.h"
#include "model/nn/fused_ops.h"

namespace arena {
namespace {

std::atomic<bool> g_fusion{true};

// p = 0 means no dropout (and no seed drawn).
struct GegluLoraDown : public torch::autograd::Function<GegluLoraDown> {
  static torch::autograd::variable_list forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& gate,
                                                const torch::Tensor& up, const torch::Tensor& a_weight, double p) {
    const uint64_t seed = p > 0 ? draw_dropout_seed() : 0;
    ctx->saved_data["seed"] = static_cast<int64_t>(seed);
    ctx->saved_data["p"] = p;
    ctx->save_for_backward({gate, up, a_weight});
    auto act = geglu_value(gate, up);
    auto a = dropout_linear(act, a_weight, seed, p);
    return {act, a};
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grad_out) {
    const auto saved = ctx->get_saved_variables();
    const auto& gate = saved[0];
    const auto& up = saved[1];
    const auto& a_weight = saved[2];
    const auto seed = static_cast<uint64_t>(ctx->saved_data["seed"].toInt());
    const double p = ctx->saved_data["p"].toDouble();
    const auto& g_act = grad_out[0];
    const auto& g_a = grad_out[1];
    torch::Tensor d_a_weight, d_act = g_act;
    const bool to_inputs = ctx->needs_input_grad(0) || ctx->needs_input_grad(1);
    torch::Tensor d_gate, d_up;
    if (g_a.defined() && ctx->needs_input_grad(2) && to_inputs && gate.is_cpu()) {
      // CPU: the input gradient first, then one pass gives GeGLU's gradients and the value the
      // weight gradient drops (instead of a second pass that recomputes it).
      d_act = dropout_linear_input_grad(g_a, a_weight, seed, p, d_act);
      torch::Tensor act;
      std::tie(d_gate, d_up, act) = geglu_grads_and_value(gate, up, d_act);
      d_a_weight = dropout_linear_weight_grad(g_a, act, torch::Tensor(), seed, p);
      return {d_gate, d_up, d_a_weight, torch::Tensor()};
    }
    if (g_a.defined()) {
      // g_aᵀ·dropout(GeGLU(gate, up)); on CUDA without writing the GeGLU value or its dropped copy
      if (ctx->needs_input_grad(2)) d_a_weight = dropout_linear_weight_grad(g_a, gate, up, seed, p);
      // dropout(g_a·A) + g_act in one pass where the LoRA kernels run (in place otherwise)
      if (to_inputs) d_act = dropout_linear_input_grad(g_a, a_weight, seed, p, d_act);
    }
    if (to_inputs && d_act.defined()) std::tie(d_gate, d_up) = geglu_grads(gate, up, d_act);
    return {d_gate, d_up, d_a_weight, torch::Tensor()};
  }
};

}  // namespace

std::pair<torch::Tensor, torch::Tensor> geglu_lora_down(const torch::Tensor& gate, const torch::Tensor& up,
                                                        const torch::Tensor& a_weight, double p, bool training) {
  const auto out = GegluLoraDown::apply(gate, up, a_weight, training ? p : 0.0);
  return {out[0], out[1]};
}

void set_geglu_lora_down_fusion(bool on) { g_fusion.store(on); }
bool geglu_lora_down_fusion() { return g_fusion.load(); }

}  // namespace arena
