// The flash attention kernels (model/cuda/flash_forward.cuh and flash_backward.cuh), their own
// source, run on the CPU through tests/cuda_emu/cuda_emu.h, against the math in float64: soft-cap,
// GQA in the position-major layout, causal and padding and sliding-window biases, partial row
// blocks and key tiles, key rows past the sequence; outputs, log-sum-exp and the q, k, v gradients.
// The GPU runs the same source (test_fused_cuda checks it there against the fused core).
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <random>
#include <vector>

#include "cuda_emu/cuda_emu.h"
#include "model/cuda/flash_backward.cuh"

namespace arena {
namespace {

namespace flash = cuda::flash;

struct Case {
  int64_t batch, kv_heads, groups, seq, head_dim;
  float cap;
  int64_t window = 0;        // > 0: keys more than `window` positions back are masked too
  bool left_pad = false;     // sequence b starts 3·b positions late
  bool shared_bias = false;  // one bias for every sequence (batch stride 0)
};

struct Inputs {
  std::vector<uint16_t> q, k, v, bias;
  int64_t key_rows, bias_ld;
};

constexpr float kMasked = -3.3895313892515355e38f;  // bf16's lowest, what attention_bias() uses

bool masked(const Case& c, int64_t b, int64_t query, int64_t key) {
  if (key > query) return true;
  if (c.window > 0 && query - key >= c.window) return true;
  return c.left_pad && key < 3 * b;
}

Inputs make_inputs(const Case& c, uint32_t seed) {
  std::mt19937 gen(seed);
  std::normal_distribution<float> normal(0.f, 1.f);
  Inputs in;
  const int64_t batches = c.batch * c.kv_heads, rows = c.seq * c.groups;
  in.key_rows = (c.seq + 7) / 8 * 8;
  in.bias_ld = in.key_rows;
  const auto fill = [&](std::vector<uint16_t>& t, size_t n, float sd) {
    t.resize(n);
    for (auto& x : t) x = float_to_bf16(sd * normal(gen));
  };
  fill(in.q, static_cast<size_t>(batches * rows * c.head_dim), 3.f);  // large scores: the cap bites
  fill(in.k, static_cast<size_t>(batches * in.key_rows * c.head_dim), 1.f);
  fill(in.v, static_cast<size_t>(batches * in.key_rows * c.head_dim), 1.f);
  for (int64_t b = 0; b < batches; ++b)  // key rows past seq hold values the kernel must not use
    for (int64_t r = c.seq; r < in.key_rows; ++r)
      for (int64_t d = 0; d < c.head_dim; ++d) {
        in.k[static_cast<size_t>((b * in.key_rows + r) * c.head_dim + d)] = float_to_bf16(100.f);
        in.v[static_cast<size_t>((b * in.key_rows + r) * c.head_dim + d)] = float_to_bf16(100.f);
      }
  const int64_t bias_batches = c.shared_bias ? 1 : c.batch;
  // Padding columns hold NaN: a kernel that used one would show it.
  in.bias.assign(static_cast<size_t>(bias_batches * c.seq * in.bias_ld), float_to_bf16(std::nanf("")));
  for (int64_t b = 0; b < bias_batches; ++b)
    for (int64_t i = 0; i < c.seq; ++i)
      for (int64_t j = 0; j < c.seq; ++j)
        in.bias[static_cast<size_t>((b * c.seq + i) * in.bias_ld + j)] =
            float_to_bf16(masked(c, b, i, j) ? kMasked : 0.25f * normal(gen));
  return in;
}

size_t at(int64_t i) { return static_cast<size_t>(i); }
double worst_relative(const std::vector<float>& got, const std::vector<double>& want) {
  double worst = 0, scale = 0;
  for (size_t i = 0; i < want.size(); ++i) {
    worst = std::max(worst, std::abs(static_cast<double>(got[i]) - want[i]));
    scale = std::max(scale, std::abs(want[i]));
  }
  return worst / scale;
}

// One query row in float64: its probabilities over the first seq keys, dz/d(s·scale) per key, lse.
struct RowMath {
  std::vector<double> p, slope;
  double lse = 0;
  bool sees_a_key = false;  // false: a left-pad row, every key masked (not compared)
};

RowMath row_math(const Case& c, const Inputs& in, float scale, int64_t batch, int64_t row) {
  const int64_t rows = c.seq * c.groups, d_ = c.head_dim, b = batch / c.kv_heads, pos = row / c.groups;
  const int64_t bias_b = c.shared_bias ? 0 : b;
  RowMath m;
  std::vector<double> z(at(c.seq));
  m.slope.resize(at(c.seq));
  double mx = -std::numeric_limits<double>::infinity();
  for (int64_t j = 0; j < c.seq; ++j) {
    double dot = 0;
    for (int64_t d = 0; d < d_; ++d)
      dot += static_cast<double>(bf16_to_float(in.q[at((batch * rows + row) * d_ + d)])) *
             bf16_to_float(in.k[at((batch * in.key_rows + j) * d_ + d)]);
    double x = dot * scale, slope = 1;
    if (c.cap > 0) {
      const double th = std::tanh(x / c.cap);
      x = c.cap * th;
      slope = 1 - th * th;
    }
    z[at(j)] = x + bf16_to_float(in.bias[at((bias_b * c.seq + pos) * in.bias_ld + j)]);
    m.slope[at(j)] = slope;
    mx = std::max(mx, z[at(j)]);
    m.sees_a_key = m.sees_a_key || !masked(c, bias_b, pos, j);
  }
  double sum = 0;
  for (auto zj : z) sum += std::exp(zj - mx);
  m.lse = mx + std::log(sum);
  m.p.resize(at(c.seq));
  for (int64_t j = 0; j < c.seq; ++j) m.p[at(j)] = std::exp(z[at(j)] - m.lse);
  return m;
}

// The operands and the shape both directions share.
template <typename Params>
Params common_params(const Case& c, const Inputs& in, float scale) {
  Params p{};
  p.q = in.q.data();
  p.k = in.k.data();
  p.v = in.v.data();
  p.bias = in.bias.data();
  p.kv_heads = c.kv_heads;
  p.groups = c.groups;
  p.seq = c.seq;
  p.rows = c.seq * c.groups;
  p.key_rows = in.key_rows;
  p.bias_batch_stride = c.shared_bias ? 0 : c.seq * in.bias_ld;
  p.bias_ld = in.bias_ld;
  p.scale = scale;
  p.cap = c.cap;
  return p;
}

struct Forward {
  std::vector<uint16_t> out;  // [batches, rows, D] bf16 (the kernel's)
  std::vector<float> lse;     // [batches, rows]
};

template <int D>
void launch_forward(const flash::ForwardParams& p, int64_t batches) {
  emu::launch((p.rows + flash::kBlockRows - 1) / flash::kBlockRows, batches, flash::kThreads,
              flash::ForwardSmem<D>::bytes, [&] { flash::flash_forward_kernel<D>(p); });
}

Forward run_forward(const Case& c, const Inputs& in, float scale) {
  const int64_t batches = c.batch * c.kv_heads, rows = c.seq * c.groups;
  Forward f;
  f.out.assign(at(batches * rows * c.head_dim), float_to_bf16(12345.f));  // unwritten elements show
  f.lse.assign(at(batches * rows), std::numeric_limits<float>::quiet_NaN());
  auto p = common_params<flash::ForwardParams>(c, in, scale);
  p.out = f.out.data();
  p.lse = f.lse.data();
  switch (c.head_dim) {
    case 64: launch_forward<64>(p, batches); break;
    case 128: launch_forward<128>(p, batches); break;
    case 256: launch_forward<256>(p, batches); break;
    default: ADD_FAILURE() << "no instantiation for head dim " << c.head_dim;
  }
  return f;
}

struct Grads {
  std::vector<float> dq, dk, dv;  // [batches, rows, D], [batches, key_rows, D] twice
};

template <int D>
void launch_backward(const flash::BackwardParams& p, int64_t batches) {
  emu::launch((p.rows + flash::kBlockRows - 1) / flash::kBlockRows, batches, flash::kThreads,
              flash::DqSmem<D>::bytes, [&] { flash::flash_dq_kernel<D>(p); });
  emu::launch((p.key_rows + flash::kDkvBlockKeys - 1) / flash::kDkvBlockKeys, batches, flash::kDkvThreads,
              flash::DkvSmem<D>::bytes, [&] { flash::flash_dkv_kernel<D>(p); });
}

// The backward kernels from the forward kernel's output and lse. dout: position-major, bf16.
Grads run_backward(const Case& c, const Inputs& in, float scale, const Forward& f, const std::vector<uint16_t>& dout) {
  const int64_t batches = c.batch * c.kv_heads, rows = c.seq * c.groups, heads = c.kv_heads * c.groups;
  const int64_t d_ = c.head_dim;
  // The output in o_proj's layout [B, S, H, D], as the backward reads it.
  std::vector<uint16_t> out_bshd(f.out.size());
  for (int64_t g = 0; g < batches; ++g)
    for (int64_t r = 0; r < rows; ++r) {
      const int64_t b = g / c.kv_heads, head = (g % c.kv_heads) * c.groups + r % c.groups, pos = r / c.groups;
      for (int64_t d = 0; d < d_; ++d)
        out_bshd[at(((b * c.seq + pos) * heads + head) * d_ + d)] = f.out[at((g * rows + r) * d_ + d)];
    }
  const uint16_t unwritten = float_to_bf16(12345.f);
  std::vector<uint16_t> dq(f.out.size(), unwritten), dk(in.k.size(), unwritten), dv(in.v.size(), unwritten);
  std::vector<float> delta(at(batches * rows), std::numeric_limits<float>::quiet_NaN());
  auto p = common_params<flash::BackwardParams>(c, in, scale);
  p.lse = f.lse.data();
  p.out = out_bshd.data();
  p.dout = dout.data();
  p.delta = delta.data();
  p.dq = dq.data();
  p.dk = dk.data();
  p.dv = dv.data();
  switch (c.head_dim) {
    case 64: launch_backward<64>(p, batches); break;
    case 128: launch_backward<128>(p, batches); break;
    case 256: launch_backward<256>(p, batches); break;
    default: ADD_FAILURE() << "no instantiation for head dim " << c.head_dim;
  }
  Grads out;
  for (auto [from, to] : {std::pair{&dq, &out.dq}, std::pair{&dk, &out.dk}, std::pair{&dv, &out.dv}}) {
    for (size_t i = 0; i < from->size(); ++i) EXPECT_NE((*from)[i], unwritten) << "gradient element " << i << " not written";
    to->resize(from->size());
    for (size_t i = 0; i < from->size(); ++i) (*to)[i] = bf16_to_float((*from)[i]);
  }
  return out;
}

void expect_matches(const Case& c, uint32_t seed) {
  SCOPED_TRACE(::testing::Message() << "B=" << c.batch << " KV=" << c.kv_heads << " G=" << c.groups << " S=" << c.seq
                                    << " D=" << c.head_dim << " cap=" << c.cap);
  const auto in = make_inputs(c, seed);
  const float scale = 1.f / std::sqrt(static_cast<float>(c.head_dim));
  const int64_t batches = c.batch * c.kv_heads, rows = c.seq * c.groups, d_ = c.head_dim;

  // Forward, and the float64 reference of every row.
  const auto f = run_forward(c, in, scale);
  std::vector<RowMath> math;
  std::vector<double> want_out(at(batches * rows * d_), 0.0);
  std::vector<float> got_out(want_out.size(), 0.f);
  double worst_lse = 0;
  int64_t compared = 0;
  for (int64_t g = 0; g < batches; ++g)
    for (int64_t r = 0; r < rows; ++r) {
      math.push_back(row_math(c, in, scale, g, r));
      const auto& m = math.back();
      const size_t row = at(g * rows + r);
      ASSERT_NE(f.out[row * at(d_)], float_to_bf16(12345.f)) << "row " << row << " not written";
      if (!m.sees_a_key) continue;  // a row that sees no key: its value is arbitrary, not compared
      ++compared;
      ASSERT_FALSE(std::isnan(f.lse[row])) << "row " << row << " has no log-sum-exp";
      worst_lse = std::max(worst_lse, std::abs(f.lse[row] - m.lse));
      for (int64_t d = 0; d < d_; ++d) {
        double acc = 0;
        for (int64_t j = 0; j < c.seq; ++j) acc += m.p[at(j)] * bf16_to_float(in.v[at((g * in.key_rows + j) * d_ + d)]);
        want_out[row * at(d_) + at(d)] = acc;
        got_out[row * at(d_) + at(d)] = bf16_to_float(f.out[row * at(d_) + at(d)]);
      }
    }
  EXPECT_GT(compared, batches * rows / 2);
  // lse: fp32 sums of bf16 products, fp32 tanh and exp, |z| ≤ 60: a few fp32 ulps.
  EXPECT_LT(worst_lse, 5e-5);  // seen: 3e-6
  // out: p rounded to bf16 before p·v (2^-9 relative each), then the output's own rounding.
  EXPECT_LT(worst_relative(got_out, want_out), 0.01);  // seen: 0.003

  // Backward from a random output gradient (zero on rows that see no key: as in the model, where
  // such rows never reach the loss).
  std::mt19937 gen(seed + 100);
  std::normal_distribution<float> normal(0.f, 1.f);
  std::vector<uint16_t> dout(at(batches * rows * d_));
  for (int64_t i = 0; i < batches * rows; ++i)
    for (int64_t d = 0; d < d_; ++d)
      dout[at(i * d_ + d)] = float_to_bf16(math[at(i)].sees_a_key ? normal(gen) : 0.f);
  const auto got = run_backward(c, in, scale, f, dout);
  std::vector<double> dq(got.dq.size(), 0.0), dk(got.dk.size(), 0.0), dv(got.dv.size(), 0.0);
  for (int64_t g = 0; g < batches; ++g)
    for (int64_t r = 0; r < rows; ++r) {
      const auto& m = math[at(g * rows + r)];
      if (!m.sees_a_key) continue;
      const auto dout_at = [&](int64_t d) { return double(bf16_to_float(dout[at((g * rows + r) * d_ + d)])); };
      std::vector<double> dp(at(c.seq), 0.0);
      double delta = 0;
      for (int64_t j = 0; j < c.seq; ++j) {
        for (int64_t d = 0; d < d_; ++d) dp[at(j)] += dout_at(d) * bf16_to_float(in.v[at((g * in.key_rows + j) * d_ + d)]);
        delta += m.p[at(j)] * dp[at(j)];
      }
      for (int64_t j = 0; j < c.seq; ++j) {
        const double ds = m.p[at(j)] * (dp[at(j)] - delta) * m.slope[at(j)] * scale;
        for (int64_t d = 0; d < d_; ++d) {
          dq[at((g * rows + r) * d_ + d)] += ds * bf16_to_float(in.k[at((g * in.key_rows + j) * d_ + d)]);
          dk[at((g * in.key_rows + j) * d_ + d)] += ds * bf16_to_float(in.q[at((g * rows + r) * d_ + d)]);
          dv[at((g * in.key_rows + j) * d_ + d)] += m.p[at(j)] * dout_at(d);
        }
      }
    }
  // p and dS rounded to bf16 before their products, δ from the bf16 output, each gradient rounded
  // once: within about 1 % of the largest element.
  EXPECT_LT(worst_relative(got.dq, dq), 0.02);  // seen: up to 0.006
  EXPECT_LT(worst_relative(got.dk, dk), 0.02);
  EXPECT_LT(worst_relative(got.dv, dv), 0.02);
  // Key rows past the sequence get exactly zero gradients.
  for (int64_t g = 0; g < batches; ++g)
    for (int64_t j = c.seq; j < in.key_rows; ++j)
      for (int64_t d = 0; d < d_; ++d) {
        ASSERT_EQ(got.dk[at((g * in.key_rows + j) * d_ + d)], 0.f) << "key row " << j;
        ASSERT_EQ(got.dv[at((g * in.key_rows + j) * d_ + d)], 0.f) << "key row " << j;
      }
}

TEST(FlashAttentionEmu, Gemma2ShapeWithSoftcapAndGqa) {
  // Head dim 256 as Gemma-2 and Gemma-3; 2 query heads per KV head; 70 positions: three row
  // blocks (the last partial), two key tiles (the second mostly past seq).
  expect_matches({1, 2, 2, 70, 256, 50.f}, 1);
}

TEST(FlashAttentionEmu, LeftPaddingAndPartialTiles) {
  expect_matches({3, 1, 4, 45, 64, 50.f, 0, /*left_pad=*/true}, 2);
}

TEST(FlashAttentionEmu, SlidingWindowWithoutCap) {
  // 129 positions: the last row block holds position 128 alone, the first key of a third tile.
  expect_matches({1, 1, 1, 129, 64, 0.f, /*window=*/40}, 3);
}

TEST(FlashAttentionEmu, OneBiasForEverySequence) {
  expect_matches({2, 2, 1, 97, 64, 30.f, 0, false, /*shared_bias=*/true}, 4);
}

TEST(FlashAttentionEmu, HeadDim128) {
  // The third head dim the GPU build instantiates (Gemma-2 9B and 27B).
  expect_matches({1, 1, 2, 40, 128, 50.f}, 5);
}

}  // namespace
}  // namespace arena
