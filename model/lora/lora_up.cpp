#include "model/lora/lora_up.h"

#include <torch/torch.h>

#include "common/error.h"

namespace arena {
namespace {

torch::Tensor rows(const torch::Tensor& t) { return t.reshape({-1, t.size(-1)}); }

struct LoraUpAdd : public torch::autograd::Function<LoraUpAdd> {
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& y, const torch::Tensor& a,
                               const torch::Tensor& b, double scaling) {
    ctx->saved_data["scaling"] = scaling;
    ctx->save_for_backward({a, b});
    y.view({-1, y.size(-1)}).addmm_(rows(a), b.t(), /*beta=*/1.0, /*alpha=*/scaling);
    ctx->mark_dirty({y});
    return y;
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grad_out) {
    const auto saved = ctx->get_saved_variables();
    const auto& a = saved[0];
    const auto& b = saved[1];
    const double scaling = ctx->saved_data["scaling"].toDouble();
    const auto& g = grad_out[0];
    // scaling as the GEMM's alpha (beta = 0: the 0-dim `self` is never read), not a separate pass
    const auto unused = torch::empty({}, g.options());
    torch::Tensor da, db;
    if (ctx->needs_input_grad(1)) da = torch::addmm(unused, rows(g), b, 0.0, scaling).view(a.sizes());
    if (ctx->needs_input_grad(2)) db = torch::addmm(unused, rows(g).t(), rows(a), 0.0, scaling);
    return {g, da, db, torch::Tensor()};
  }
};

}  // namespace

torch::Tensor lora_up_add_(const torch::Tensor& y, const torch::Tensor& a, const torch::Tensor& b, double scaling) {
  check(y.is_contiguous(), "lora_up_add_: the projection output must be contiguous");
  check(!(y.is_leaf() && y.requires_grad()), "lora_up_add_: cannot update a leaf tensor that requires grad in place");
  check(b.dim() == 2 && y.size(-1) == b.size(0) && a.size(-1) == b.size(1),
        "lora_up_add_: shapes y [.., {}], a [.., {}], B [{}] do not fit y += a·Bᵀ", y.size(-1), a.size(-1),
        fmt::join(b.sizes(), ", "));
  check(y.numel() / y.size(-1) == a.numel() / a.size(-1), "lora_up_add_: y has {} rows, a has {}",
        y.numel() / y.size(-1), a.numel() / a.size(-1));
  check(y.scalar_type() == a.scalar_type() && a.scalar_type() == b.scalar_type(),
        "lora_up_add_: y, a and B must share one dtype");
  return LoraUpAdd::apply(y, a, b, scaling);
}

}  // namespace arena
