#include "model/gemma/recompute.h"

#include <ATen/CPUGeneratorImpl.h>
#include <torch/torch.h>

#include <optional>
#include <vector>

#include "model/lora/linear.h"

namespace arena {
namespace {

// The generators a layer draws from: LoRA dropout seeds come from the CPU generator
// (model/lora/lora_dropout.h), anything else from the device's.
std::vector<at::Generator> generators_for(const torch::Tensor& x) {
  std::vector<at::Generator> gens{at::detail::getDefaultCPUGenerator()};
  if (!x.device().is_cpu()) gens.push_back(at::globalContext().defaultGenerator(x.device()));
  return gens;
}

std::vector<torch::Tensor> states(const std::vector<at::Generator>& gens) {
  std::vector<torch::Tensor> s;
  for (const auto& g : gens) s.push_back(g.get_state());
  return s;
}

void set_states(std::vector<at::Generator>& gens, const std::vector<torch::Tensor>& s) {
  for (size_t i = 0; i < gens.size(); ++i) gens[i].set_state(s[i]);
}

struct RecomputeLayer : public torch::autograd::Function<RecomputeLayer> {
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, DecoderLayerImpl* layer, const torch::Tensor& x,
                               const torch::Tensor& cos, const torch::Tensor& sin, const torch::Tensor& bias,
                               const std::optional<torch::Tensor>& rows, torch::TensorList params) {
    ctx->saved_data["layer"] = reinterpret_cast<int64_t>(layer);
    // The RNG state before the layer runs, so dropout masks repeat exactly in the recompute.
    ctx->saved_data["rng"] = states(generators_for(x));
    ctx->saved_data["num_params"] = static_cast<int64_t>(params.size());
    const auto only = rows.value_or(torch::Tensor());  // positions, never differentiated
    ctx->saved_data["rows"] = only;
    std::vector<torch::Tensor> saved{x, cos, sin, bias};
    saved.insert(saved.end(), params.begin(), params.end());
    ctx->save_for_backward(saved);
    return layer->forward(x, cos, sin, bias, only);  // autograd is off inside Function::forward
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grad_out) {
    auto* layer = reinterpret_cast<DecoderLayerImpl*>(ctx->saved_data["layer"].toInt());
    const auto saved = ctx->get_saved_variables();
    const int64_t num_params = ctx->saved_data["num_params"].toInt();
    // needs_input_grad counts tensor inputs only: x is the first.
    const bool x_needs_grad = ctx->needs_input_grad(0);

    torch::AutoGradMode enable_grad(true);
    auto x = saved[0].detach().requires_grad_(x_needs_grad);
    auto gens = generators_for(x);
    const auto rng_now = states(gens);
    set_states(gens, ctx->saved_data["rng"].toTensorVector());
    const auto y = layer->forward(x, saved[1], saved[2], saved[3], ctx->saved_data["rows"].toTensor());
    set_states(gens, rng_now);  // leave the streams where the rest of backward expects them

    std::vector<torch::Tensor> wrt;
    if (x_needs_grad) wrt.push_back(x);
    for (int64_t i = 0; i < num_params; ++i) wrt.push_back(saved[4 + i]);
    auto grads = torch::autograd::grad({y}, wrt, {grad_out[0]}, /*retain_graph=*/false,
                                       /*create_graph=*/false, /*allow_unused=*/true);

    // One slot per forward argument: layer, x, cos, sin, bias, rows, then each parameter.
    torch::autograd::variable_list out(6 + num_params);
    size_t g = 0;
    if (x_needs_grad) out[1] = grads[g++];
    for (int64_t i = 0; i < num_params; ++i) out[6 + i] = grads[g++];
    return out;
  }
};

}  // namespace

torch::Tensor recompute_layer(DecoderLayerImpl& layer, const torch::Tensor& x, const torch::Tensor& cos,
                              const torch::Tensor& sin, const torch::Tensor& bias, const torch::Tensor& rows) {
  // What the layer's forward differentiates: each trainable parameter, or the compute copy that
  // stands in for it (model/lora/compute_copies.h). The inner backward's gradients go to these.
  std::vector<LinearImpl*> linears;
  for (const auto& m : layer.modules())
    if (auto* linear = dynamic_cast<LinearImpl*>(m.get())) linears.push_back(linear);
  std::vector<torch::Tensor> trainable;
  for (const auto& p : layer.parameters()) {
    if (!p.requires_grad()) continue;
    torch::Tensor used = p;
    for (const auto* linear : linears)
      if (auto u = linear->used_form(p, x.scalar_type()); !u.is_same(p)) {
        used = std::move(u);
        break;
      }
    trainable.push_back(used);
  }
  // An optional tensor: an undefined one is no autograd input.
  const auto only = rows.defined() ? std::optional<torch::Tensor>(rows) : std::nullopt;
  return RecomputeLayer::apply(&layer, x, cos, sin, bias, only, torch::TensorList(trainable));
}

}  // namespace arena
