#include "model/cuda/flash_attention.h"

#include <cuda_runtime.h>

#include <stdexcept>
#include <string>
#include <type_traits>

#include "model/cuda/kernel_primitives.cuh"
#include "model/cuda/flash_backward.cuh"

namespace arena::cuda {
namespace {

template <int D>
void launch(const flash::ForwardParams& p, int64_t batches, cudaStream_t stream) {
  constexpr size_t kSmem = flash::ForwardSmem<D>::bytes;
  // More than 48 KiB of dynamic shared memory must be asked for, once per kernel and device
  // (cheap enough to repeat on every call).
  cudaFuncSetAttribute(flash::flash_forward_kernel<D>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                       static_cast<int>(kSmem));
  const dim3 grid(static_cast<unsigned>((p.rows + flash::kBlockRows - 1) / flash::kBlockRows),
                  static_cast<unsigned>(batches));
  flash::flash_forward_kernel<D><<<grid, flash::kThreads, kSmem, stream>>>(p);
}

template <int D>
void launch_backward(const flash::BackwardParams& p, int64_t batches, cudaStream_t stream) {
  constexpr size_t kDqSmem = flash::DqSmem<D>::bytes, kDkvSmem = flash::DkvSmem<D>::bytes;
  cudaFuncSetAttribute(flash::flash_dq_kernel<D>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                       static_cast<int>(kDqSmem));
  cudaFuncSetAttribute(flash::flash_dkv_kernel<D>, cudaFuncAttributeMaxDynamicSharedMemorySize,
                       static_cast<int>(kDkvSmem));
  const dim3 dq_grid(static_cast<unsigned>((p.rows + flash::kBlockRows - 1) / flash::kBlockRows),
                     static_cast<unsigned>(batches));
  flash::flash_dq_kernel<D><<<dq_grid, flash::kThreads, kDqSmem, stream>>>(p);
  const dim3 dkv_grid(static_cast<unsigned>((p.key_rows + flash::kDkvBlockKeys - 1) / flash::kDkvBlockKeys),
                      static_cast<unsigned>(batches));
  flash::flash_dkv_kernel<D><<<dkv_grid, flash::kDkvThreads, kDkvSmem, stream>>>(p);
}

// f(std::integral_constant<int, D>{}) for the head dims the kernels are instantiated for; false
// for any other.
template <typename F>
bool with_head_dim(int64_t head_dim, F&& f) {
  switch (head_dim) {
    case 64: f(std::integral_constant<int, 64>{}); return true;
    case 128: f(std::integral_constant<int, 128>{}); return true;
    case 256: f(std::integral_constant<int, 256>{}); return true;
    default: return false;
  }
}

// The operands and the shape both directions share, from the launcher's arguments.
template <typename Params, typename Args>
Params common_params(const Args& a) {
  Params p{};
  p.q = static_cast<const uint16_t*>(a.q);
  p.k = static_cast<const uint16_t*>(a.k);
  p.v = static_cast<const uint16_t*>(a.v);
  p.bias = static_cast<const uint16_t*>(a.bias);
  p.lse = a.lse;
  p.kv_heads = a.kv_heads;
  p.groups = a.groups;
  p.seq = a.seq;
  p.rows = a.seq * a.groups;
  p.key_rows = a.key_rows;
  p.bias_batch_stride = a.bias_batch_stride;
  p.bias_ld = a.bias_ld;
  p.scale = a.scale;
  p.cap = a.cap;
  return p;
}

[[noreturn]] void unsupported(const char* what, int64_t head_dim) {
  throw std::invalid_argument(std::string(what) + ": head dim " + std::to_string(head_dim) +
                              " has no kernel (64, 128, 256)");
}

}  // namespace

template <int D>
size_t shared_bytes() {
  const size_t most = flash::ForwardSmem<D>::bytes > flash::DqSmem<D>::bytes ? flash::ForwardSmem<D>::bytes
                                                                              : flash::DqSmem<D>::bytes;
  return most > flash::DkvSmem<D>::bytes ? most : flash::DkvSmem<D>::bytes;
}

bool flash_attention_supports(int64_t head_dim) {
  size_t need = 0;
  if (!with_head_dim(head_dim, [&](auto d) { need = shared_bytes<decltype(d)::value>(); })) return false;
  // bf16 mma.sync needs sm_80; at head dim 256 the kernels take 99 and 109 KiB of shared memory
  // per block (A100 and H100 give up to 163 and 227 KiB; sm_86 and sm_89 only 99).
  int device = 0, major = 0, optin = 0;
  if (cudaGetDevice(&device) != cudaSuccess ||
      cudaDeviceGetAttribute(&major, cudaDevAttrComputeCapabilityMajor, device) != cudaSuccess ||
      cudaDeviceGetAttribute(&optin, cudaDevAttrMaxSharedMemoryPerBlockOptin, device) != cudaSuccess) {
    cudaGetLastError();  // not this caller's error to leave behind
    return false;
  }
  return major >= 8 && static_cast<size_t>(optin) >= need;
}

void flash_attention_forward(const FlashForward& a, void* stream) {
  auto p = common_params<flash::ForwardParams>(a);
  p.out = static_cast<uint16_t*>(a.out);
  const auto s = static_cast<cudaStream_t>(stream);
  if (!with_head_dim(a.head_dim, [&](auto d) { launch<decltype(d)::value>(p, a.batches, s); }))
    unsupported("flash_attention_forward", a.head_dim);
}

void flash_attention_backward(const FlashBackward& a, void* stream) {
  auto p = common_params<flash::BackwardParams>(a);
  p.out = static_cast<const uint16_t*>(a.out);
  p.dout = static_cast<const uint16_t*>(a.dout);
  p.delta = a.delta;
  p.dq = static_cast<uint16_t*>(a.dq);
  p.dk = static_cast<uint16_t*>(a.dk);
  p.dv = static_cast<uint16_t*>(a.dv);
  const auto s = static_cast<cudaStream_t>(stream);
  if (!with_head_dim(a.head_dim, [&](auto d) { launch_backward<decltype(d)::value>(p, a.batches, s); }))
    unsupported("flash_attention_backward", a.head_dim);
}

}  // namespace arena::cuda
