#include "optim/lr_schedule.h"

#include <algorithm>
#include <cmath>

#include "common/error.h"

namespace arena {

DecayKind parse_decay(const std::string& name) {
  if (name == "linear") return DecayKind::kLinear;
  if (name == "cosine") return DecayKind::kCosine;
  if (name == "constant") return DecayKind::kConstant;
  throw Error(fmt::format("unknown lr decay '{}' (expected linear, cosine or constant)", name));
}

double LrSchedule::factor(int64_t step) const {
  if (step < warmup_steps) return static_cast<double>(step) / static_cast<double>(std::max<int64_t>(1, warmup_steps));
  const double span = static_cast<double>(std::max<int64_t>(1, total_steps - warmup_steps));
  const double done = static_cast<double>(step - warmup_steps);
  switch (decay) {
    case DecayKind::kLinear: return std::max(0.0, (static_cast<double>(total_steps - step)) / span);
    case DecayKind::kCosine: return std::max(0.0, 0.5 * (1.0 + std::cos(M_PI * done / span)));
    case DecayKind::kConstant: return 1.0;
  }
  return 1.0;
}

}  // namespace arena
