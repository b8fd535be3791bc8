// The training run: batch -> forward -> loss -> backward -> reduce -> step -> eval every N steps ->
// checkpoint every M steps, on every rank of the world, then the test split at the end.
#pragma once

#include "launch/train_config.h"

namespace arena {

// Runs (or resumes, when c.resume is set) a training job; returns the process exit code.
// Throws arena::Error on bad input; the caller turns that into a whole-job abort.
int run_training(const TrainConfig& c);

}  // namespace arena
