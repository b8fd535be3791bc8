#include "model/lora/compute_copies.h"

#include <torch/torch.h>

#include <algorithm>

#include "common/error.h"
#include "model/lora/linear.h"

namespace arena {

ComputeCopies::ComputeCopies(torch::nn::Module& model, const Named& masters, torch::Tensor flat,
                             torch::ScalarType dtype)
    : masters_(masters), flat_(std::move(flat)) {
  if (dtype == torch::kFloat32) return;
  check(flat_.dim() == 1 && flat_.scalar_type() == torch::kFloat32,
        "compute copies: the flat buffer must be 1-D fp32, got {}-D {}", flat_.dim(), c10::toString(flat_.scalar_type()));
  std::vector<std::shared_ptr<LinearImpl>> linears;
  for (const auto& m : model.modules(/*include_self=*/true))
    if (auto linear = std::dynamic_pointer_cast<LinearImpl>(m)) linears.push_back(std::move(linear));

  copy_flat_ = torch::empty({flat_.numel()}, flat_.options().dtype(dtype));
  try {
    install(linears);
  } catch (...) {
    uninstall();  // no Linear keeps a copy that nothing refreshes
    throw;
  }
}

void ComputeCopies::install(const std::vector<std::shared_ptr<LinearImpl>>& linears) {
  int64_t offset = 0;
  for (const auto& [name, master] : masters_) {
    check(master.scalar_type() == torch::kFloat32, "compute copies: '{}' is {}, expected fp32", name,
          c10::toString(master.scalar_type()));
    const int64_t n = master.numel();
    check(offset + n <= flat_.numel(), "compute copies: '{}' ends at {}, past the flat buffer's {} values", name,
          offset + n, flat_.numel());
    // detach() shares the version counter with copy_flat_: a refresh while a graph still holds a copy
    // makes that graph's backward fail loudly instead of using new values.
    auto copy = copy_flat_.narrow(0, offset, n).view(master.sizes()).detach().requires_grad_(true);
    const auto owner = std::find_if(linears.begin(), linears.end(),
                                    [&](const auto& linear) { return linear->set_compute_copy(master, copy); });
    check(owner != linears.end(), "compute copies: '{}' is no Linear's weight, lora_A or lora_B", name);
    owners_.push_back(*owner);
    copies_.push_back(std::move(copy));
    offset += n;
  }
  check(offset == flat_.numel(), "compute copies: the tensors hold {} values, the flat buffer {}", offset,
        flat_.numel());
}

void ComputeCopies::uninstall() {
  for (size_t i = 0; i < owners_.size(); ++i) owners_[i]->set_compute_copy(masters_[i].second, torch::Tensor());
  owners_.clear();
  copies_.clear();
}

ComputeCopies::~ComputeCopies() { uninstall(); }

int64_t ComputeCopies::versions() const {
  int64_t v = static_cast<int64_t>(flat_._version());
  for (const auto& [name, master] : masters_) v += static_cast<int64_t>(master._version());
  return v;
}

void ComputeCopies::refresh_if_stale() {
  if (!active()) return;
  const int64_t now = versions();
  if (now == stamp_) return;
  torch::NoGradGuard no_grad;
  copy_flat_.copy_(flat_);
  stamp_ = now;
}

void ComputeCopies::fold_grads(torch::Tensor& flat_grads) {
  if (!active()) return;
  check(flat_grads.numel() == copy_flat_.numel(), "compute copies: {} gradients for {} values", flat_grads.numel(),
        copy_flat_.numel());
  torch::NoGradGuard no_grad;
  std::vector<torch::Tensor> grads;
  grads.reserve(copies_.size());
  for (const auto& c : copies_)
    if (c.grad().defined()) grads.push_back(c.grad().reshape({-1}));
  if (grads.size() == copies_.size()) {
    flat_grads.add_(torch::cat(grads));  // widened to fp32 inside the add
  } else {  // some copy took no part in the backward: add the others one by one
    int64_t offset = 0;
    for (const auto& c : copies_) {
      if (c.grad().defined()) flat_grads.narrow(0, offset, c.numel()).add_(c.grad().reshape({-1}));
      offset += c.numel();
    }
  }
  for (auto& c : copies_) c.mutable_grad().reset();
}

}  // namespace arena
