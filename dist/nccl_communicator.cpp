#include "dist/nccl_communicator.h"

#include <c10/cuda/CUDAException.h>
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>
#include <nccl.h>

#include "common/error.h"
#include "dist/watchdog.h"

namespace arena {
namespace {

// The NCCL error helper: names the call and NCCL's message (and the last error detail).
void nccl_check(ncclResult_t rc, const char* call) {
  if (rc == ncclSuccess) return;
  throw Error(fmt::format("NCCL: {} failed: {} ({})", call, ncclGetErrorString(rc), ncclGetLastError(nullptr)));
}

ncclDataType_t nccl_type(const torch::Tensor& t) {
  switch (t.scalar_type()) {
    case torch::kFloat32: return ncclFloat32;
    case torch::kFloat64: return ncclFloat64;
    case torch::kBFloat16: return ncclBfloat16;
    case torch::kFloat16: return ncclFloat16;
    case torch::kInt64: return ncclInt64;
    case torch::kInt32: return ncclInt32;
    default: throw Error(fmt::format("NCCL: dtype {} is not supported", c10::toString(t.scalar_type())));
  }
}

class NcclCommunicator final : public Communicator {
 public:
  NcclCommunicator(const World& world, const torch::Device& device) : device_(device) {
    check(device.is_cuda(), "NCCL backend needs a CUDA device, got {}", device.str());
    c10::cuda::CUDAGuard guard(device);
    ncclUniqueId id;
    if (world.rank == 0) nccl_check(ncclGetUniqueId(&id), "ncclGetUniqueId");
    host_broadcast(&id, sizeof(id), 0);
    nccl_check(ncclCommInitRank(&comm_, world.size, id, world.rank), "ncclCommInitRank");
  }
  ~NcclCommunicator() override {
    if (comm_) ncclCommDestroy(comm_);
  }

  const char* name() const override { return "nccl"; }

  void all_reduce_sum(torch::Tensor& t) override {
    check(t.is_cuda() && t.is_contiguous(), "NCCL all-reduce: tensor must be contiguous on {}", device_.str());
    c10::cuda::CUDAGuard guard(device_);
    const auto stream = c10::cuda::getCurrentCUDAStream(device_.index()).stream();
    // Enqueue and wait inside the scope, so a rank that never joins trips the watchdog here (the
    // trainer reads the reduced gradients' norm right after, so the wait costs nothing extra).
    CollectiveScope scope("ncclAllReduce of the gradient bucket");
    nccl_check(ncclAllReduce(t.data_ptr(), t.data_ptr(), t.numel(), nccl_type(t), ncclSum, comm_, stream),
               "ncclAllReduce(gradient bucket)");
    C10_CUDA_CHECK(cudaStreamSynchronize(stream));  // torch's CUDA error helper
  }

  void broadcast(torch::Tensor& t, int root) override {
    check(t.is_cuda() && t.is_contiguous(), "NCCL broadcast: tensor must be contiguous on {}", device_.str());
    c10::cuda::CUDAGuard guard(device_);
    const auto stream = c10::cuda::getCurrentCUDAStream(device_.index()).stream();
    CollectiveScope scope("ncclBroadcast of the parameters");
    nccl_check(ncclBroadcast(t.data_ptr(), t.data_ptr(), t.numel(), nccl_type(t), root, comm_, stream),
               "ncclBroadcast(parameters)");
    C10_CUDA_CHECK(cudaStreamSynchronize(stream));
  }

 private:
  torch::Device device_;
  ncclComm_t comm_ = nullptr;
};

}  // namespace

std::unique_ptr<Communicator> make_nccl_communicator(const World& world, const torch::Device& device) {
  return std::make_unique<NcclCommunicator>(world, device);
}

}  // namespace arena
