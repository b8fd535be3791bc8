#include "model/quant/nf4.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>

#include "common/error.h"
#include "model/quant/nf4_cuda.h"
#include "model/quant/quant8.h"

namespace arena {

const float kNf4Code[16] = {
    -1.0f, -0.6961928009986877f, -0.5250730514526367f, -0.39491748809814453f,
    -0.28444138169288635f, -0.18477343022823334f, -0.09105003625154495f, 0.0f,
    0.07958029955625534f, 0.16093020141124725f, 0.24611230194568634f, 0.33791524171829224f,
    0.44070982933044434f, 0.5626170039176941f, 0.7229568362236023f, 1.0f};

namespace {

// Midpoints between neighbouring codes, in fp32 as bitsandbytes computes them.
struct Nf4Bounds {
  float mid[15];
  Nf4Bounds() {
    for (int i = 0; i < 15; ++i) mid[i] = (kNf4Code[i] + kNf4Code[i + 1]) / 2.0f;
  }
};

inline uint8_t nearest_nf4(const Nf4Bounds& b, float v) {
  // Number of midpoints strictly below v: a value equal to a midpoint stays on the lower code.
  return static_cast<uint8_t>(std::lower_bound(b.mid, b.mid + 15, v) - b.mid);
}

}  // namespace

int64_t Nf4Weight::numel() const {
  int64_t n = 1;
  for (auto s : shape) n *= s;
  return n;
}

int64_t nf4_storage_bytes(int64_t numel, bool double_quant, int64_t blocksize) {
  const int64_t blocks = (numel + blocksize - 1) / blocksize;
  const int64_t packed = (numel + 1) / 2;
  if (!double_quant) return packed + blocks * 4;
  const int64_t nested_blocks = (blocks + 255) / 256;
  return packed + blocks + nested_blocks * 4 + 256 * 4 + 4;  // + nested map + offset
}

int64_t Nf4Weight::storage_bytes() const { return nf4_storage_bytes(numel(), nested, blocksize); }

Nf4Weight Nf4Weight::to(torch::Device device) const {
  Nf4Weight w = *this;
  const auto move = [&](torch::Tensor& t) {
    if (t.defined()) t = t.to(device);
  };
  move(w.packed);
  move(w.absmax);
  move(w.qabsmax);
  move(w.nested_absmax);
  move(w.nested_map);
  return w;
}

Nf4Weight nf4_quantize(const torch::Tensor& weight, bool double_quant, int64_t blocksize) {
  check(weight.is_floating_point(), "nf4_quantize: weight has dtype {}, expected f32/bf16/f16",
        c10::toString(weight.scalar_type()));
  check(blocksize > 0 && blocksize % 2 == 0, "nf4_quantize: blocksize {} must be positive and even", blocksize);
  const auto x = weight.detach().to(torch::kCPU, torch::kFloat32).contiguous().view(-1);
  const int64_t n = x.numel();
  const int64_t blocks = (n + blocksize - 1) / blocksize;
  Nf4Weight w;
  w.shape = weight.sizes().vec();
  w.blocksize = blocksize;
  w.dtype = weight.scalar_type();
  w.packed = torch::zeros({(n + 1) / 2}, torch::kUInt8);
  auto absmax = torch::empty({blocks}, torch::kFloat32);
  const float* src = x.data_ptr<float>();
  uint8_t* packed = w.packed.data_ptr<uint8_t>();
  float* am = absmax.data_ptr<float>();
  const Nf4Bounds bounds;
  at::parallel_for(0, blocks, 16, [&](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; ++b) {
      const int64_t begin = b * blocksize, end = std::min(n, begin + blocksize);
      float amax = 0.0f;
      for (int64_t i = begin; i < end; ++i) amax = std::max(amax, std::fabs(src[i]));
      am[b] = amax;
      // bnb multiplies full blocks by the fp32 reciprocal but divides in a trailing partial
      // block; both clamp to [-1, 1]. Matching that keeps boundary values bit-identical.
      const float safe = std::max(amax, 1e-38f);
      const float inv = 1.0f / safe;
      const bool partial = end - begin < blocksize;
      for (int64_t i = begin; i < end; ++i) {
        const float v = std::clamp(partial ? src[i] / safe : src[i] * inv, -1.0f, 1.0f);
        const uint8_t code = nearest_nf4(bounds, v);
        // blocksize is even, so a block never splits a byte.
        packed[i / 2] |= static_cast<uint8_t>((i % 2 == 0) ? (code << 4) : code);
      }
    }
  });
  if (!double_quant) {
    w.absmax = absmax;
    return w;
  }
  w.nested = true;
  w.offset = absmax.mean().item<float>();
  auto q8 = quant8_quantize(absmax - w.offset, w.nested_blocksize);
  w.qabsmax = q8.codes;
  w.nested_absmax = q8.absmax;
  w.nested_map = q8.map;
  return w;
}

torch::Tensor nf4_absmax(const Nf4Weight& w) {
  if (!w.nested) return w.absmax.to(torch::kFloat32);
  if (w.device().is_cuda()) return nf4_cuda_unnest_absmax(w);
  Quant8 q{w.qabsmax, w.nested_absmax, w.nested_map, w.nested_blocksize};
  return quant8_dequantize(q) + w.offset;
}

namespace {

// Expands one block: a byte holds two codes (high nibble first); value = code * scale in fp32,
// then one rounding to T, exactly as dequantizing to fp32 and casting afterwards.
template <typename T>
void dequantize_blocks(const uint8_t* p, const float* am, T* o, int64_t n, int64_t blocksize, int64_t b0, int64_t b1) {
  for (int64_t b = b0; b < b1; ++b) {
    const float scale = am[b];
    T lut[16];
    for (int k = 0; k < 16; ++k) lut[k] = static_cast<T>(kNf4Code[k] * scale);
    const int64_t begin = b * blocksize, end = std::min(n, begin + blocksize);
    int64_t i = begin;
    for (; i + 1 < end; i += 2) {
      const uint8_t byte = p[i / 2];
      o[i] = lut[byte >> 4];
      o[i + 1] = lut[byte & 0x0f];
    }
    if (i < end) o[i] = lut[p[i / 2] >> 4];
  }
}

}  // namespace

torch::Tensor nf4_dequantize_cpu(const torch::Tensor& packed_in, const torch::Tensor& absmax_in, int64_t n,
                                 int64_t blocksize, torch::ScalarType dtype) {
  const auto packed = packed_in.contiguous();
  const auto absmax = absmax_in.to(torch::kFloat32).contiguous();
  check(packed.numel() * 2 >= n, "nf4: packed buffer holds {} values, {} needed", packed.numel() * 2, n);
  check(absmax.numel() * blocksize >= n, "nf4: {} absmax values cover {} values, {} needed", absmax.numel(),
        absmax.numel() * blocksize, n);
  check(blocksize % 2 == 0, "nf4: blocksize {} must be even", blocksize);
  check(dtype == torch::kFloat32 || dtype == torch::kBFloat16 || dtype == torch::kFloat16,
        "nf4: cannot dequantize to {}", c10::toString(dtype));
  auto out = torch::empty({n}, torch::TensorOptions().dtype(dtype));
  const uint8_t* p = packed.data_ptr<uint8_t>();
  const float* am = absmax.data_ptr<float>();
  const int64_t blocks = (n + blocksize - 1) / blocksize;
  // The table per block is exact (code * scale is what the fp32 path computes), so the result is
  // bit-identical to bitsandbytes' dequantize followed by a cast.
  at::parallel_for(0, blocks, 256, [&](int64_t b0, int64_t b1) {
    switch (dtype) {
      case torch::kFloat32: dequantize_blocks(p, am, out.data_ptr<float>(), n, blocksize, b0, b1); break;
      case torch::kBFloat16: dequantize_blocks(p, am, out.data_ptr<c10::BFloat16>(), n, blocksize, b0, b1); break;
      case torch::kFloat16: dequantize_blocks(p, am, out.data_ptr<c10::Half>(), n, blocksize, b0, b1); break;
      default: break;
    }
  });
  return out;
}

torch::Tensor nf4_dequantize(const Nf4Weight& w, torch::ScalarType dtype) {
  if (w.device().is_cuda()) return nf4_cuda_dequantize(w, dtype).view(w.shape);
  return nf4_dequantize_cpu(w.packed, nf4_absmax(w), w.numel(), w.blocksize, dtype).view(w.shape);
}

}  // namespace arena
