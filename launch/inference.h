// A trained classifier back from a checkpoint, for eval, predict and export: the run's resolved
// config, the same base (refused when its fingerprint differs), and the trained adapters + head.
#pragma once

#include <torch/types.h>

#include <string>

#include "launch/train_config.h"
#include "model/gemma/classifier.h"

namespace arena {

struct TrainedModel {
  TrainConfig config;      // as resolved by the run that wrote the checkpoint
  std::string checkpoint;  // the file read
  int64_t step = 0;
  torch::Device device{torch::kCPU};
  GemmaClassifier model{nullptr};
};

// `from`: a checkpoint file or a run directory (its newest checkpoint). `device`: auto | cpu | cuda.
// `attention`: the attention core (model.attention: auto | eager | flash); empty keeps the run's.
TrainedModel load_trained(const std::string& from, const std::string& device, const std::string& attention = "");

}  // namespace arena
