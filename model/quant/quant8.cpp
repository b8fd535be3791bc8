#include "model/quant/quant8.h"

#include <torch/torch.h>

#include <algorithm>
#include <cmath>

#include "common/error.h"

namespace arena {

torch::Tensor dynamic_map_8bit() {
  // 7 exponent bits, 1 sign bit: for exponent i the fraction has 2^i + 1 linearly spaced
  // boundaries in [0.1, 1]; their midpoints, scaled by 10^(i-6), both signs, then 0 and 1.
  constexpr int kExponentBits = 7;
  std::vector<float> data;
  for (int i = 0; i < kExponentBits; ++i) {
    const auto boundaries = torch::linspace(0.1, 1.0, (1 << i) + 1, torch::kFloat32);
    const auto means = (boundaries.slice(0, 0, -1) + boundaries.slice(0, 1)) / 2.0;
    const auto scaled = (means * std::pow(10.0, i - (kExponentBits - 1))).contiguous();
    const float* p = scaled.data_ptr<float>();
    for (int64_t k = 0; k < scaled.numel(); ++k) data.push_back(p[k]);
    for (int64_t k = 0; k < scaled.numel(); ++k) data.push_back(-p[k]);
  }
  data.push_back(0.0f);
  data.push_back(1.0f);
  check(data.size() == 256, "dynamic map: built {} values, expected 256", data.size());
  std::sort(data.begin(), data.end());
  return torch::tensor(data, torch::kFloat32);
}

Quant8Lut::Quant8Lut(const float* map) : table(kSize) {
  float mid[255];
  for (int i = 0; i < 255; ++i) mid[i] = 0.5f * (map[i] + map[i + 1]);
  int code = 0;
  for (int i = 0; i < kSize; ++i) {
    const float v = -1.0f + (2.0f * static_cast<float>(i)) / static_cast<float>(kSize - 1);
    while (code < 255 && mid[code] < v) ++code;
    table[static_cast<size_t>(i)] = static_cast<uint8_t>(code);
  }
}

uint32_t Quant8Lut::index(float v) {
  v = std::clamp(v, -1.0f, 1.0f);
  // Separate fp32 roundings, as written (model/CMakeLists.txt compiles this file with -ffp-contract=off).
  const float scaled = (v + 1.0f) * 0.5f * static_cast<float>(kSize - 1);
  return static_cast<uint32_t>(static_cast<uint16_t>(scaled + 0.5f));
}

Quant8 quant8_quantize(const torch::Tensor& x_in, int64_t blocksize) {
  check(blocksize > 0, "quant8: blocksize must be positive, got {}", blocksize);
  const auto x = x_in.to(torch::kFloat32).contiguous().view(-1);
  const int64_t n = x.numel();
  const int64_t blocks = (n + blocksize - 1) / blocksize;
  Quant8 q;
  q.blocksize = blocksize;
  q.map = dynamic_map_8bit();
  q.codes = torch::empty({n}, torch::kUInt8);
  q.absmax = torch::empty({blocks}, torch::kFloat32);
  const float* src = x.data_ptr<float>();
  const float* map = q.map.data_ptr<float>();
  uint8_t* codes = q.codes.data_ptr<uint8_t>();
  float* absmax = q.absmax.data_ptr<float>();
  const Quant8Lut lut(map);
  at::parallel_for(0, blocks, 1, [&](int64_t b0, int64_t b1) {
    for (int64_t b = b0; b < b1; ++b) {
      const int64_t begin = b * blocksize, end = std::min(n, begin + blocksize);
      float amax = 0.0f;
      for (int64_t i = begin; i < end; ++i) amax = std::max(amax, std::fabs(src[i]));
      absmax[b] = amax;
      const float inv = amax == 0.0f ? 0.0f : 1.0f / amax;
      for (int64_t i = begin; i < end; ++i) codes[i] = amax == 0.0f ? 0 : lut.code(src[i] * inv);
    }
  });
  return q;
}

torch::Tensor quant8_dequantize(const Quant8& q) {
  const auto codes = q.codes.contiguous().view(-1);
  const int64_t n = codes.numel();
  auto out = torch::empty({n}, torch::kFloat32);
  const uint8_t* c = codes.data_ptr<uint8_t>();
  const float* map = q.map.data_ptr<float>();
  const float* absmax = q.absmax.data_ptr<float>();
  float* o = out.data_ptr<float>();
  for (int64_t i = 0; i < n; ++i) o[i] = map[c[i]] * absmax[i / q.blocksize];
  return out;
}

}  // namespace arena
