#include "optim/adamw.h"

#include <torch/torch.h>

#include <cmath>

#include "common/error.h"

namespace arena {

AdamW::AdamW(const torch::Tensor& params, const AdamWOptions& options) : o_(options) {
  check(params.dim() == 1, "AdamW: expects the flat parameter bucket");
  m_ = torch::zeros_like(params, params.options().dtype(torch::kFloat32));
  v_ = torch::zeros_like(m_);
}

void AdamW::step(torch::Tensor& params, const torch::Tensor& grads, double lr) {
  step(params, grads, {Segment{0, params.numel(), lr}});
}

void AdamW::step(torch::Tensor& params, const torch::Tensor& grads, const std::vector<Segment>& segments) {
  int64_t covered = 0;
  for (const auto& s : segments) {
    check(s.begin == covered && s.end > s.begin, "AdamW: learning-rate segments must tile the bucket in order");
    covered = s.end;
  }
  check(covered == params.numel(), "AdamW: learning-rate segments cover {} of {} elements", covered, params.numel());
  torch::NoGradGuard no_grad;
  ++step_;
  const auto g = grads.to(torch::kFloat32);
  auto p = params.scalar_type() == torch::kFloat32 ? params : params.to(torch::kFloat32);
  const double bias1 = 1 - std::pow(o_.beta1, static_cast<double>(step_));
  const double bias2 = 1 - std::pow(o_.beta2, static_cast<double>(step_));
  const auto update = [&](int64_t begin, int64_t length, double rate) {
    auto ps = p.narrow(0, begin, length), ms = m_.narrow(0, begin, length), vs = v_.narrow(0, begin, length);
    const auto gs = g.narrow(0, begin, length);
    if (o_.weight_decay != 0) ps.mul_(1 - rate * o_.weight_decay);
    ms.lerp_(gs, 1 - o_.beta1);
    vs.mul_(o_.beta2).addcmul_(gs, gs, 1 - o_.beta2);
    const auto denom = (vs.sqrt() / std::sqrt(bias2)).add_(o_.eps);
    ps.addcdiv_(ms, denom, -rate / bias1);
  };
  for (const auto& s : segments) update(s.begin, s.end - s.begin, s.lr);
  if (!p.is_same(params)) params.copy_(p);
}

void AdamW::load_state(int64_t steps, const torch::Tensor& exp_avg, const torch::Tensor& exp_avg_sq) {
  check(exp_avg.numel() == m_.numel() && exp_avg_sq.numel() == v_.numel(),
        "AdamW state has {} / {} moments, the trainable bucket has {}", exp_avg.numel(), exp_avg_sq.numel(),
        m_.numel());
  step_ = steps;
  torch::NoGradGuard no_grad;
  m_.copy_(exp_avg.reshape({-1}));
  v_.copy_(exp_avg_sq.reshape({-1}));
}

double clip_grad_norm(torch::Tensor& grads, double max_norm) {
  torch::NoGradGuard no_grad;
  const double norm = grads.to(torch::kFloat32).norm().item<double>();
  if (max_norm > 0) {
    const double coef = std::min(1.0, max_norm / (norm + 1e-6));
    grads.mul_(coef);
  }
  return norm;
}

}  // namespace arena
