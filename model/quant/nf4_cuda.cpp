#include "model/quant/nf4_cuda.h"

#include <torch/torch.h>

#include "common/error.h"

#ifdef ARENA_WITH_CUDA
#include <c10/cuda/CUDAGuard.h>
#include <c10/cuda/CUDAStream.h>

#include "model/cuda/cuda_util.h"
#include "model/cuda/nf4_kernels.h"
#include "model/quant/quant8.h"
#endif

namespace arena {

#ifdef ARENA_WITH_CUDA
namespace {

cuda::OutType out_type(torch::ScalarType t) { return cuda_storage_type(t, "nf4: dequantize"); }

}  // namespace

bool nf4_cuda_compiled() { return true; }

torch::Tensor nf4_cuda_unnest_absmax(const Nf4Weight& w) {
  if (!w.nested) return w.absmax.to(torch::kFloat32);
  c10::cuda::CUDAGuard guard(w.device());
  const auto q = w.qabsmax.contiguous();
  const auto map = w.nested_map.to(torch::kFloat32).contiguous();
  const auto nested = w.nested_absmax.to(torch::kFloat32).contiguous();
  auto out = torch::empty({q.numel()}, q.options().dtype(torch::kFloat32));
  cuda::nf4_unnest_absmax(q.data_ptr<uint8_t>(), map.data_ptr<float>(), nested.data_ptr<float>(), w.offset,
                          out.data_ptr<float>(), q.numel(), w.nested_blocksize, current_cuda_stream());
  check_cuda_launch("nf4_unnest_absmax");
  return out;
}

torch::Tensor nf4_cuda_dequantize(const Nf4Weight& w, torch::ScalarType dtype) {
  check(w.blocksize % 8 == 0, "nf4 (CUDA): blocksize {} must be a multiple of 8", w.blocksize);
  c10::cuda::CUDAGuard guard(w.device());
  const auto packed = w.packed.contiguous();
  auto out = torch::empty({w.numel()}, packed.options().dtype(dtype));
  // One pass with the scales un-nested in registers (every Gemma-2 shape takes this path).
  const auto f32 = [](const torch::Tensor& t) { return t.to(torch::kFloat32).contiguous(); };  // no-ops normally
  bool fused = false;
  if (w.nested) {
    const auto q = w.qabsmax.contiguous();
    const auto map = f32(w.nested_map);
    const auto nested = f32(w.nested_absmax);
    fused = cuda::nf4_dequantize_fused(packed.data_ptr<uint8_t>(), nullptr, q.data_ptr<uint8_t>(), map.data_ptr<float>(),
                                       nested.data_ptr<float>(), w.offset, out.data_ptr(), out_type(dtype), w.numel(),
                                       w.blocksize, w.nested_blocksize, current_cuda_stream());
  } else {
    const auto absmax = f32(w.absmax);
    fused = cuda::nf4_dequantize_fused(packed.data_ptr<uint8_t>(), absmax.data_ptr<float>(), nullptr, nullptr, nullptr,
                                       0.0f, out.data_ptr(), out_type(dtype), w.numel(), w.blocksize,
                                       w.nested_blocksize, current_cuda_stream());
  }
  if (fused) {
    check_cuda_launch("nf4_dequantize_fused");
    return out;
  }
  const auto absmax = nf4_cuda_unnest_absmax(w);
  cuda::nf4_dequantize(packed.data_ptr<uint8_t>(), absmax.data_ptr<float>(), out.data_ptr(), out_type(dtype),
                       w.numel(), w.blocksize, current_cuda_stream());
  check_cuda_launch("nf4_dequantize");
  return out;
}

Nf4Weight nf4_cuda_quantize(const torch::Tensor& weight, bool double_quant) {
  check(weight.is_cuda(), "nf4_cuda_quantize: weight is on {}, expected a CUDA device", weight.device().str());
  c10::cuda::CUDAGuard guard(weight.device());
  const auto x = weight.detach().to(torch::kFloat32).contiguous().view(-1);
  const int64_t n = x.numel();
  Nf4Weight w;
  w.shape = weight.sizes().vec();
  w.blocksize = 64;
  w.dtype = weight.scalar_type();
  w.packed = torch::zeros({(n + 1) / 2}, x.options().dtype(torch::kUInt8));
  auto absmax = torch::empty({(n + 63) / 64}, x.options());
  cuda::nf4_quantize(x.data_ptr<float>(), w.packed.data_ptr<uint8_t>(), absmax.data_ptr<float>(), n, 64,
                     current_cuda_stream());
  check_cuda_launch("nf4_quantize");
  if (!double_quant) {
    w.absmax = absmax;
    return w;
  }
  w.nested = true;
  // The mean on the CPU, by the same reduction as the CPU reference (nf4.cpp): a CUDA mean sums
  // in another order and can differ in the last bit, which changes every double-quant code.
  w.offset = absmax.cpu().mean().item<float>();
  const auto centered = (absmax - w.offset).contiguous();
  w.nested_map = dynamic_map_8bit().to(x.device());  // the stored map
  w.qabsmax = torch::empty({centered.numel()}, x.options().dtype(torch::kUInt8));
  w.nested_absmax = torch::empty({(centered.numel() + 255) / 256}, x.options());
  const auto map_cpu = dynamic_map_8bit();
  const Quant8Lut lut(map_cpu.data_ptr<float>());
  const auto lut_gpu = torch::from_blob(const_cast<uint8_t*>(lut.table.data()), {Quant8Lut::kSize}, torch::kUInt8)
                           .to(x.device());
  cuda::quant8_quantize(centered.data_ptr<float>(), lut_gpu.data_ptr<uint8_t>(), w.qabsmax.data_ptr<uint8_t>(),
                        w.nested_absmax.data_ptr<float>(), centered.numel(), w.nested_blocksize, current_cuda_stream());
  check_cuda_launch("quant8_quantize");
  return w;
}

#else

namespace {
[[noreturn]] void no_cuda() { throw Error("nf4: this build has no CUDA kernels (configured with ARENA_WITH_CUDA=OFF)"); }
}  // namespace

bool nf4_cuda_compiled() { return false; }
torch::Tensor nf4_cuda_dequantize(const Nf4Weight&, torch::ScalarType) { no_cuda(); }
torch::Tensor nf4_cuda_unnest_absmax(const Nf4Weight&) { no_cuda(); }
Nf4Weight nf4_cuda_quantize(const torch::Tensor&, bool) { no_cuda(); }

#endif

}  // namespace arena
