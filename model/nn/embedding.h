// Gemma token embedding: rows of W [vocab, hidden] scaled by sqrt(hidden), with the scale first
// rounded to the compute dtype as the reference does (sqrt(2304) = 48 is exact; sqrt(3072)
// becomes 55.5 in bf16).
//
// A frozen table can stay in host memory while the rest of the model runs on a GPU
// (host-resident): forward gathers the batch's rows on the host into pinned memory and copies only
// those rows to the GPU. For Gemma-2-2B that keeps 1.1 GiB of bf16 table off the device at the cost
// of a B·S·hidden copy per forward (35 MB for 4 × 1900 tokens). The rows are the same bytes, so
// the output is bit-identical to a device-resident table.
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/pimpl.h>

namespace arena {

class ScaledEmbeddingImpl : public torch::nn::Module {
 public:
  // Rows ~ N(0, 0.02²) with the pad row zeroed, as transformers initializes them.
  ScaledEmbeddingImpl(int64_t vocab, int64_t hidden, int64_t pad_id, const torch::TensorOptions& options);
  torch::Tensor forward(const torch::Tensor& input_ids);  // [B, S] int64 -> [B, S, hidden]

  // Moves the table to host memory (on) or to the output device (off). A training forward refuses
  // a host-resident table that requires grad: its gradient would need a scatter-add on the host.
  void set_host_resident(bool on);
  bool host_resident() const { return host_resident_; }
  // Where forward's output lives: the table's device, or the device the module was moved to.
  torch::Device output_device() const { return host_resident_ ? output_device_ : weight.device(); }

  // A host-resident table stays on the host: only the dtype applies to it, the device becomes
  // the output device.
  void to(torch::Device device, torch::Dtype dtype, bool non_blocking = false) override;
  void to(torch::Dtype dtype, bool non_blocking = false) override;
  void to(torch::Device device, bool non_blocking = false) override;

  torch::Tensor weight;  // [vocab, hidden]

 private:
  torch::Tensor gather_on_host(const torch::Tensor& input_ids) const;

  double scale_;
  bool host_resident_ = false;
  torch::Device output_device_{torch::kCPU};
};
TORCH_MODULE(ScaledEmbedding);

}  // namespace arena
