// Learning-rate schedules: linear warmup from 0, then linear or cosine decay to 0 at the last step,
// the formulas of transformers' get_linear_schedule_with_warmup / get_cosine_schedule_with_warmup.
// The factor for optimizer step k (0-based, counted before the step) multiplies the peak lr, so
// with warmup the first step runs at lr 0, as it does under the transformers Trainer.
#pragma once

#include <cstdint>
#include <string>

namespace arena {

enum class DecayKind { kLinear, kCosine, kConstant };
DecayKind parse_decay(const std::string& name);  // linear | cosine | constant

struct LrSchedule {
  double peak = 1e-4;
  int64_t warmup_steps = 0;
  int64_t total_steps = 1;
  DecayKind decay = DecayKind::kLinear;

  double factor(int64_t step) const;
  double lr(int64_t step) const { return peak * factor(step); }
};

}  // namespace arena
