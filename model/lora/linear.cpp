#include "model/lora/linear.h"

#include <torch/torch.h>

#include <cmath>

#include "common/error.h"
#include "model/lora/lora_dropout.h"
#include "model/lora/lora_up.h"
#include "model/nn/normal_init.h"
#include "model/quant/nf4_cuda.h"

namespace arena {
namespace {

// y = x · dequant(W)ᵀ with W frozen in NF4. Saves nothing but the module pointer: backward
// dequantizes again for grad_x = grad_y · W (the weight itself gets no gradient).
struct Nf4Matmul : public torch::autograd::Function<Nf4Matmul> {
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& x,
                               const LinearImpl* self) {
    ctx->saved_data["self"] = reinterpret_cast<int64_t>(self);
    return torch::linear(x, nf4_dequantize(self->nf4(), x.scalar_type()));
  }
  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grad_out) {
    const auto* self = reinterpret_cast<const LinearImpl*>(ctx->saved_data["self"].toInt());
    const auto& g = grad_out[0];
    return {torch::matmul(g, nf4_dequantize(self->nf4(), g.scalar_type())), torch::Tensor()};
  }
};

}  // namespace

double LoraOptions::scaling() const {
  return rslora ? alpha / std::sqrt(static_cast<double>(rank)) : alpha / static_cast<double>(rank);
}

LinearImpl::LinearImpl(int64_t in, int64_t out, double init_std, const torch::TensorOptions& options)
    : in_features(in), out_features(out) {
  weight = register_parameter("weight", torch::empty({out, in}, options));
  if (!weight.is_meta()) normal_init_(weight, init_std);  // the same values in fp32 and bf16
}

// Trainable tensors may be kept in fp32 while the model computes in bf16 (what autocast does):
// they are cast to the activations' dtype inside the graph, so their gradients come back in fp32,
// unless a compute copy stands in for them (model/lora/compute_copies.h).
namespace {
// Whether `copy` stands in for `w` at `dtype`: w is not in it already, and the copy is.
bool uses_copy(const torch::Tensor& w, const torch::Tensor& copy, torch::ScalarType dtype) {
  return w.scalar_type() != dtype && copy.defined() && copy.scalar_type() == dtype;
}
}  // namespace

torch::Tensor LinearImpl::in_dtype(const torch::Tensor& w, const torch::Tensor& copy, torch::ScalarType dtype) const {
  if (uses_copy(w, copy, dtype)) return copy;
  return w.scalar_type() == dtype ? w : w.to(dtype);
}

int LinearImpl::copy_slot(const torch::Tensor& master) const {
  return master.is_same(weight)   ? kWeightCopy
         : master.is_same(lora_A) ? kLoraACopy
         : master.is_same(lora_B) ? kLoraBCopy
                                  : -1;
}

bool LinearImpl::set_compute_copy(const torch::Tensor& master, const torch::Tensor& copy) {
  const int slot = copy_slot(master);
  if (slot < 0) return false;
  check(!copy.defined() || copy.sizes() == master.sizes(), "Linear: a compute copy of shape [{}] for a tensor of [{}]",
        fmt::join(copy.sizes(), ", "), fmt::join(master.sizes(), ", "));
  copies_[slot] = copy;
  return true;
}

torch::Tensor LinearImpl::used_form(const torch::Tensor& master, torch::ScalarType dtype) const {
  const int slot = copy_slot(master);
  return slot >= 0 && uses_copy(master, copies_[slot], dtype) ? copies_[slot] : master;
}

torch::Tensor LinearImpl::forward(const torch::Tensor& x) {
  const auto y = base_forward(x);
  if (!has_lora()) return y;
  return add_lora_up(y, lora_down(x, lora_A_as(x), lora_dropout_, is_training()));  // a: [..., r]
}

torch::Tensor LinearImpl::base_forward(const torch::Tensor& x) {
  return nf4_ ? Nf4Matmul::apply(x, this) : torch::linear(x, in_dtype(weight, copies_[kWeightCopy], x.scalar_type()));
}

torch::Tensor LinearImpl::lora_A_as(const torch::Tensor& x) const {
  return in_dtype(lora_A, copies_[kLoraACopy], x.scalar_type());
}

torch::Tensor LinearImpl::add_lora_up(const torch::Tensor& y, const torch::Tensor& a) {
  // y += scaling·(a·Bᵀ) as one GEMM with y as its accumulator (beta = 1, alpha = scaling): a
  // separate scale and add would each be a full pass over the [tokens, out] output, and an
  // out-of-place addmm one copy of it (model/lora/lora_up.h). y is the base projection's fresh output.
  // PEFT's order (a·Bᵀ, then the scale, then the add, each rounded) differs from it by a rounding;
  // on the CPU those three passes and their fresh [tokens, out] tensors were 16x the GEMM's time.
  const auto b = in_dtype(lora_B, copies_[kLoraBCopy], y.scalar_type());
  if (y.is_contiguous() && !y.is_view()) return lora_up_add_(y, a, b, lora_scaling_);
  return torch::addmm(y.reshape({-1, out_features}), a.reshape({-1, a.size(-1)}), b.t(), /*beta=*/1.0,
                      /*alpha=*/lora_scaling_)
      .view(y.sizes());
}

void LinearImpl::quantize(bool double_quant) {
  check(!nf4_, "Linear: already quantized");
  check(weight.defined() && !weight.is_meta(), "Linear: no dense weight to quantize");
  // On a GPU the CUDA quantizer writes the same bytes as the CPU reference without a round trip.
  set_quantized(weight.is_cuda() ? nf4_cuda_quantize(weight, double_quant) : nf4_quantize(weight, double_quant));
}

void LinearImpl::set_quantized(Nf4Weight w) {
  check(w.shape == std::vector<int64_t>{out_features, in_features},
        "Linear: NF4 weight has shape [{}], expected [{}, {}]", fmt::join(w.shape, ", "), out_features, in_features);
  nf4_ = std::move(w);
  // Drop the dense parameter: the frozen base lives only in 4 bits from here on.
  parameters_.erase("weight");
  weight = torch::Tensor();
}

void LinearImpl::add_lora(const LoraOptions& o, torch::ScalarType dtype) {
  check(!has_lora(), "Linear: already has a LoRA adapter");
  check(o.rank > 0, "LoRA rank must be positive, got {}", o.rank);
  const auto device = nf4_ ? nf4_->device() : weight.device();
  const auto opts = torch::TensorOptions().dtype(torch::kFloat32).device(device);
  auto a = torch::empty({o.rank, in_features}, opts);
  {
    torch::NoGradGuard no_grad;
    torch::nn::init::kaiming_uniform_(a, std::sqrt(5.0));  // PEFT's reset_lora_parameters
  }
  lora_A = register_parameter("lora_A", a.to(dtype));
  lora_B = register_parameter("lora_B", torch::zeros({out_features, o.rank}, opts.dtype(dtype)));
  lora_scaling_ = o.scaling();
  lora_dropout_ = o.dropout;
}

torch::Tensor LinearImpl::dense_weight(torch::ScalarType dtype) const {
  return nf4_ ? nf4_dequantize(*nf4_, dtype) : weight.detach().to(dtype);
}

void LinearImpl::to(torch::Device device, torch::Dtype dtype, bool non_blocking) {
  torch::nn::Module::to(device, dtype, non_blocking);
  if (nf4_) nf4_ = nf4_->to(device);
}

// Declared so the other two overloads do not hide it; NF4 tensors keep their dtypes.
void LinearImpl::to(torch::Dtype dtype, bool non_blocking) { torch::nn::Module::to(dtype, non_blocking); }

void LinearImpl::to(torch::Device device, bool non_blocking) {
  torch::nn::Module::to(device, non_blocking);
  if (nf4_) nf4_ = nf4_->to(device);
}

}  // namespace arena
