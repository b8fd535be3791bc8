#include "model/recompute.h"

#include <torch/torch.h>

namespace arena {
namespace {

at::Generator generator_for(const torch::Tensor& x) { return at::globalContext().defaultGenerator(x.device()); }

struct RecomputeLayer : public torch::autograd::Function<RecomputeLayer> {
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, DecoderLayerImpl* layer, const torch::Tensor& x,
                               const torch::Tensor& cos, const torch::Tensor& sin, const torch::Tensor& bias,
                               torch::TensorList params) {
    ctx->saved_data["layer"] = reinterpret_cast<int64_t>(layer);
    // The RNG state before the layer runs, so dropout masks repeat exactly in the recompute.
    ctx->saved_data["rng"] = generator_for(x).get_state();
    ctx->saved_data["num_params"] = static_cast<int64_t>(params.size());
    std::vector<torch::Tensor> saved{x, cos, sin, bias};
    saved.insert(saved.end(), params.begin(), params.end());
    ctx->save_for_backward(saved);
    return layer->forward(x, cos, sin, bias);  // autograd is off inside Function::forward
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
    auto gen = generator_for(x);
    const auto rng_now = gen.get_state();
    gen.set_state(ctx->saved_data["rng"].toTensor());
    const auto y = layer->forward(x, saved[1], saved[2], saved[3]);
    gen.set_state(rng_now);  // leave the stream where the rest of backward expects it

    std::vector<torch::Tensor> wrt;
    if (x_needs_grad) wrt.push_back(x);
    for (int64_t i = 0; i < num_params; ++i) wrt.push_back(saved[4 + i]);
    auto grads = torch::autograd::grad({y}, wrt, {grad_out[0]}, /*retain_graph=*/false,
                                       /*create_graph=*/false, /*allow_unused=*/true);

    // One slot per forward argument: layer, x, cos, sin, bias, then each parameter.
    torch::autograd::variable_list out(5 + num_params);
    size_t g = 0;
    if (x_needs_grad) out[1] = grads[g++];
    for (int64_t i = 0; i < num_params; ++i) out[5 + i] = grads[g++];
    return out;
  }
};

}  // namespace

torch::Tensor recompute_layer(DecoderLayerImpl& layer, const torch::Tensor& x, const torch::Tensor& cos,
                              const torch::Tensor& sin, const torch::Tensor& bias) {
  std::vector<torch::Tensor> trainable;
  for (const auto& p : layer.parameters())
    if (p.requires_grad()) trainable.push_back(p);
  return RecomputeLayer::apply(&layer, x, cos, sin, bias, torch::TensorList(trainable));
}

}  // namespace arena
