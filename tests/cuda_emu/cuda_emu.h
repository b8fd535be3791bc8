// Runs a kernel written in kernel_primitives.cuh's names (model/cuda/flash_forward.cuh) on the CPU:
// one OS thread per CUDA thread, blocks one after another, __syncthreads as a barrier of the
// block's threads, and the warp operations (shuffles, mma.sync) as exchanges between the 32 lanes
// of a warp through a barrier of that warp. mma.sync follows the register layout PTX documents for
// m16n8k16, so a kernel that puts a value in the wrong lane or register gets a wrong answer here
// as it would on the GPU. What this cannot show: speed, and races the barriers happen to order.
//
// Shared memory starts filled with 0xFF bytes (bf16 NaN), so reading what no thread wrote shows.
#pragma once

#include <math.h>

#include <condition_variable>
#include <cstdint>
#include <cstring>
#include <functional>
#include <memory>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "model/nn/bf16_bits.h"

#define ARENA_KERNEL
#define ARENA_LAUNCH_BOUNDS(threads)
#define ARENA_DEVICE inline
#define ARENA_UNROLL

namespace arena::emu {

// A reusable barrier for n threads.
class Barrier {
 public:
  explicit Barrier(int n) : n_(n) {}
  void wait() {
    std::unique_lock<std::mutex> lock(mutex_);
    const uint64_t generation = generation_;
    if (++arrived_ == n_) {
      arrived_ = 0;
      ++generation_;
      cv_.notify_all();
      return;
    }
    cv_.wait(lock, [&] { return generation_ != generation; });
  }

 private:
  std::mutex mutex_;
  std::condition_variable cv_;
  int n_;
  int arrived_ = 0;
  uint64_t generation_ = 0;
};

// What the 32 lanes of one warp exchange.
struct Warp {
  Barrier barrier{32};
  float value[32];
  uint32_t a[32][4];
  uint32_t b[32][2];
  const uint16_t* row[32];
};

struct Block {
  explicit Block(int threads, size_t smem_bytes)
      : barrier(threads), warps(static_cast<size_t>((threads + 31) / 32)), smem((smem_bytes + 15) / 16 + 1) {
    std::memset(smem.data(), 0xFF, smem.size() * 16);
  }
  Barrier barrier;
  std::vector<Warp> warps;
  struct alignas(16) Chunk {
    unsigned char bytes[16];
  };
  std::vector<Chunk> smem;
  int64_t x = 0, y = 0;
  std::mutex error_mutex;
  std::string error;  // the first misuse a thread reported (warp operations cannot throw mid-exchange)
};

struct ThreadState {
  Block* block = nullptr;
  int thread = 0;
};
inline thread_local ThreadState tls;
inline int64_t grid_dim_x = 1;

inline Warp& my_warp() { return tls.block->warps[static_cast<size_t>(tls.thread / 32)]; }
inline int my_lane() { return tls.thread % 32; }

// Records a misuse; launch() throws it once the block has ended.
inline void report(const std::string& what) {
  std::lock_guard<std::mutex> lock(tls.block->error_mutex);
  if (tls.block->error.empty()) tls.block->error = what;
}

// Runs kernel() for every thread of a grid_x × grid_y grid of blocks of `threads` threads
// (a multiple of 32), one block at a time, and throws what report() recorded once the block has
// ended. A kernel must not throw: a thread that left early would leave the others waiting at
// their next barrier (an exception that ends the kernel after its last barrier is rethrown here).
inline void launch(int64_t grid_x, int64_t grid_y, int threads, size_t smem_bytes,
                   const std::function<void()>& kernel) {
  if (threads % 32 != 0) throw std::invalid_argument("emu::launch: threads must be a multiple of 32");
  grid_dim_x = grid_x;
  for (int64_t y = 0; y < grid_y; ++y) {
    for (int64_t x = 0; x < grid_x; ++x) {
      Block block(threads, smem_bytes);
      block.x = x;
      block.y = y;
      std::vector<std::thread> pool;
      std::vector<std::exception_ptr> errors(static_cast<size_t>(threads));
      for (int t = 0; t < threads; ++t) {
        pool.emplace_back([&, t] {
          tls.block = &block;
          tls.thread = t;
          try {
            kernel();
          } catch (...) {
            errors[static_cast<size_t>(t)] = std::current_exception();
          }
        });
      }
      for (auto& th : pool) th.join();
      for (auto& e : errors)
        if (e) std::rethrow_exception(e);
      if (!block.error.empty()) throw std::runtime_error("emu::launch: " + block.error);
    }
  }
}

}  // namespace arena::emu

namespace arena::cuda {

struct alignas(16) Vec16 {
  uint32_t x, y, z, w;  // an aggregate like CUDA's uint4: `Vec16 v{}` is zero
};

inline int thread_x() { return emu::tls.thread; }
inline int64_t block_x() { return emu::tls.block->x; }
inline int64_t block_y() { return emu::tls.block->y; }
inline int64_t grid_x() { return emu::grid_dim_x; }
inline void block_sync() { emu::tls.block->barrier.wait(); }

template <typename T>
inline T* dynamic_smem() {
  return reinterpret_cast<T*>(emu::tls.block->smem.data());
}

inline float shfl_xor(float v, int mask) {
  auto& w = emu::my_warp();
  const int lane = emu::my_lane();
  w.value[lane] = v;
  w.barrier.wait();
  const float got = w.value[lane ^ mask];
  w.barrier.wait();  // nobody overwrites value[] before every lane has read
  return got;
}

inline Vec16 load_vec16(const uint16_t* p) {
  Vec16 v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
inline void store_vec16(uint16_t* p, Vec16 v) { std::memcpy(p, &v, sizeof v); }
inline uint32_t load_u32(const uint16_t* p) {
  uint32_t u;
  std::memcpy(&u, p, sizeof u);
  return u;
}
inline void store_u32(uint16_t* p, uint32_t v) { std::memcpy(p, &v, sizeof v); }
inline uint16_t vec16_element(const Vec16& v, int e) {
  uint16_t w[8];
  std::memcpy(w, &v, sizeof w);
  return w[e];
}

inline float bf16_word(uint16_t w) { return bf16_to_float(w); }
inline float bf16_low(uint32_t pair) { return bf16_to_float(static_cast<uint16_t>(pair & 0xffffu)); }
inline float bf16_high(uint32_t pair) { return bf16_to_float(static_cast<uint16_t>(pair >> 16)); }
inline uint32_t pack_bf16(float lo, float hi) {
  return static_cast<uint32_t>(float_to_bf16(lo)) | (static_cast<uint32_t>(float_to_bf16(hi)) << 16);
}

// PTX ldmatrix.m8n8.x4 (kernel_primitives.cuh gives the layout): every lane posts its row address,
// then picks its elements from the rows of the other lanes.
inline void ldmatrix_x4_impl(uint32_t (&r)[4], const uint16_t* p, bool trans) {
  auto& w = emu::my_warp();
  const int lane = emu::my_lane();
  if (reinterpret_cast<uintptr_t>(p) % 16 != 0) emu::report("ldmatrix: a row address is not 16-byte aligned");
  w.row[lane] = p;
  w.barrier.wait();
  const int g = lane / 4, t = lane % 4;
  for (int i = 0; i < 4; ++i) {
    const auto at = [&](int row, int col) { return static_cast<uint32_t>(w.row[8 * i + row][col]); };
    r[i] = trans ? at(2 * t, g) | (at(2 * t + 1, g) << 16) : at(g, 2 * t) | (at(g, 2 * t + 1) << 16);
  }
  w.barrier.wait();  // every lane has read the posted rows
}
inline void ldmatrix_x4(uint32_t (&r)[4], const uint16_t* p) { ldmatrix_x4_impl(r, p, false); }
inline void ldmatrix_x4_trans(uint32_t (&r)[4], const uint16_t* p) { ldmatrix_x4_impl(r, p, true); }

// PTX mma.m16n8k16.row.col.f32.bf16.bf16.f32 (kernel_primitives.cuh gives the layout): every lane
// posts its fragments, then computes its own four outputs from the whole tiles, summing the 16
// products in fp32 in k order after the accumulator.
inline void mma_bf16_16816(float (&c)[4], const uint32_t (&a)[4], const uint32_t (&b)[2]) {
  auto& w = emu::my_warp();
  const int lane = emu::my_lane();
  for (int i = 0; i < 4; ++i) w.a[lane][i] = a[i];
  w.b[lane][0] = b[0];
  w.b[lane][1] = b[1];
  w.barrier.wait();
  const auto half = [](uint32_t pair, int k) {
    return bf16_to_float(static_cast<uint16_t>(k % 2 == 0 ? pair & 0xffffu : pair >> 16));
  };
  const auto a_at = [&](int r, int k) {  // row r, column k of the 16×16 A tile
    return half(w.a[(r % 8) * 4 + (k % 8) / 2][(r >= 8 ? 1 : 0) + (k >= 8 ? 2 : 0)], k);
  };
  const auto b_at = [&](int k, int n) {  // row k, column n of the 16×8 B tile
    return half(w.b[n * 4 + (k % 8) / 2][k >= 8 ? 1 : 0], k);
  };
  const int g = lane / 4, t = lane % 4;
  float d[4];
  for (int i = 0; i < 4; ++i) {
    const int r = g + (i >= 2 ? 8 : 0), n = 2 * t + i % 2;
    float acc = c[i];
    for (int k = 0; k < 16; ++k) acc += a_at(r, k) * b_at(k, n);
    d[i] = acc;
  }
  w.barrier.wait();  // every lane has read the posted fragments
  for (int i = 0; i < 4; ++i) c[i] = d[i];
}

}  // namespace arena::cuda
