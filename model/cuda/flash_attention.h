// Raw CUDA launchers of the flash-style soft-capped attention, forward (flash_forward.cuh) and
// backward (flash_backward.cuh): no torch types, so nvcc never parses torch headers. All pointers
// are device pointers; work is queued on `stream`. The layout is the fused core's
// (attention_kernels.h): q and out [batches, rows, D] position-major (rows = S·G), k and v
// [batches, key_rows, D], lse [batches, rows] fp32, the additive causal bias [B|1, 1, S, bias_ld]
// in bf16 with 16-byte aligned rows.
#pragma once

#include <cstdint>

namespace arena::cuda {

struct FlashForward {
  const void* q;
  const void* k;
  const void* v;
  const void* bias;
  void* out;
  float* lse;
  int64_t batches, kv_heads, groups, seq, head_dim, key_rows, bias_batch_stride, bias_ld;
  float scale, cap;  // cap <= 0: no soft-cap
};

// Whether the kernels have an instantiation for this head dimension (64, 128 or 256) and the current
// device runs them (sm_80 or later, with the shared memory they ask for).
bool flash_attention_supports(int64_t head_dim);

// out and lse for every row, bf16 in and out. Throws std::invalid_argument for a head dimension
// flash_attention_supports() refuses.
void flash_attention_forward(const FlashForward& args, void* stream);

struct FlashBackward {
  const void* q;
  const void* k;
  const void* v;
  const void* bias;
  const void* out;   // the forward's output in o_proj's layout [B, S, KV·G, D], contiguous
  const void* dout;  // its gradient, position-major like q
  const float* lse;  // the forward's
  float* delta;      // [batches, rows] scratch: Σ dout·out per row
  void* dq;          // like q
  void* dk;          // like k (rows from seq on: zeros)
  void* dv;
  int64_t batches, kv_heads, groups, seq, head_dim, key_rows, bias_batch_stride, bias_ld;
  float scale, cap;
};

// dq, dk and dv (two kernels, no atomics), bf16. The same head dimensions as the forward.
void flash_attention_backward(const FlashBackward& args, void* stream);

}  // namespace arena::cuda
