#include "dist/grad_bucket.h"

#include <torch/torch.h>

#include "common/error.h"

namespace arena {

GradBucket::GradBucket(Named params) : named_(std::move(params)) {
  check(!named_.empty(), "gradient bucket: no trainable tensors");
  const auto& first = named_.front().second;
  int64_t total = 0;
  for (const auto& [name, t] : named_) {
    check(t.requires_grad() && t.is_leaf(), "gradient bucket: '{}' is not a trainable leaf tensor", name);
    check(t.scalar_type() == first.scalar_type() && t.device() == first.device(),
          "gradient bucket: '{}' is {} on {}, expected {} on {} like '{}'", name, c10::toString(t.scalar_type()),
          t.device().str(), c10::toString(first.scalar_type()), first.device().str(), named_.front().first);
    total += t.numel();
  }
  const auto opts = first.options().requires_grad(false);
  params_ = torch::empty({total}, opts);
  grads_ = torch::zeros({total}, opts);
  int64_t offset = 0;
  torch::NoGradGuard no_grad;
  for (auto& [name, t] : named_) {
    const int64_t n = t.numel();
    auto slot = params_.narrow(0, offset, n);
    slot.copy_(t.detach().reshape({n}));
    t.set_data(slot.view(t.sizes()));
    t.mutable_grad() = grads_.narrow(0, offset, n).view(t.sizes());
    offset += n;
  }
}

bool GradBucket::grads_finite() const { return torch::isfinite(grads_).all().item<bool>(); }

bool GradBucket::grads_in_bucket() const {
  const auto* base = static_cast<const char*>(grads_.data_ptr());
  int64_t offset = 0;
  for (const auto& [name, t] : named_) {
    if (!t.grad().defined() || t.grad().data_ptr() != base + offset * grads_.element_size()) return false;
    offset += t.numel();
  }
  return true;
}

}  // namespace arena
