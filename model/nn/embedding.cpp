#include "model/nn/embedding.h"

#include <torch/torch.h>

#include <cmath>

#include "common/error.h"
#include "model/nn/normal_init.h"

namespace arena {

ScaledEmbeddingImpl::ScaledEmbeddingImpl(int64_t vocab, int64_t hidden, int64_t pad_id,
                                         const torch::TensorOptions& options)
    : scale_(std::sqrt(static_cast<double>(hidden))) {
  weight = register_parameter("weight", torch::empty({vocab, hidden}, options));
  if (!weight.is_meta()) {
    torch::NoGradGuard no_grad;
    normal_init_(weight, 0.02);
    if (pad_id >= 0 && pad_id < vocab) weight[pad_id].zero_();
  }
}

torch::Tensor ScaledEmbeddingImpl::forward(const torch::Tensor& input_ids) {
  const auto rows = host_resident_ ? gather_on_host(input_ids) : torch::embedding(weight, input_ids);
  // A 0-dim CPU tensor in the rows' dtype: the reference's rounding of the scale, and on a GPU no
  // host-to-device copy (a blocking one would wait for the rows' asynchronous copy).
  const auto scale = torch::scalar_tensor(scale_, torch::dtype(rows.scalar_type()));
  return rows * scale;
}

torch::Tensor ScaledEmbeddingImpl::gather_on_host(const torch::Tensor& input_ids) const {
  check(!(weight.requires_grad() && torch::GradMode::is_enabled()),
        "embedding: a host-resident table must be frozen (it requires grad)");
  const auto ids = input_ids.to(torch::kCPU).reshape({-1});
  const bool to_gpu = !output_device_.is_cpu();
  // Pinned rows let the copy to the GPU run asynchronously; the caching host allocator keeps the
  // buffer alive until that copy has finished.
  auto rows = torch::empty({ids.size(0), weight.size(1)}, weight.options().pinned_memory(to_gpu));
  torch::index_select_out(rows, weight, 0, ids);
  auto shape = input_ids.sizes().vec();
  shape.push_back(weight.size(1));
  return rows.view(shape).to(output_device_, /*non_blocking=*/to_gpu);
}

void ScaledEmbeddingImpl::set_host_resident(bool on) {
  if (on == host_resident_) return;
  torch::NoGradGuard no_grad;
  if (on) {
    output_device_ = weight.device();
    weight.set_data(weight.data().to(torch::kCPU));
  } else {
    weight.set_data(weight.data().to(output_device_));
  }
  host_resident_ = on;
}

void ScaledEmbeddingImpl::to(torch::Device device, torch::Dtype dtype, bool non_blocking) {
  if (!host_resident_) return torch::nn::Module::to(device, dtype, non_blocking);
  torch::nn::Module::to(dtype, non_blocking);
  output_device_ = device;
}

void ScaledEmbeddingImpl::to(torch::Dtype dtype, bool non_blocking) { torch::nn::Module::to(dtype, non_blocking); }

void ScaledEmbeddingImpl::to(torch::Device device, bool non_blocking) {
  if (!host_resident_) return torch::nn::Module::to(device, non_blocking);
  output_device_ = device;
}

}  // namespace arena
