// The explicit table between Hugging Face tensor names and our parameters.
// Written out by hand (not derived from module reflection) so a renamed module cannot silently
// change what a checkpoint name loads into.
#pragma once

#include <torch/types.h>

#include <string>
#include <vector>

#include "model/gemma/gemma2.h"

namespace arena {

struct HfParam {
  std::string hf_name;             // e.g. "model.layers.3.self_attn.q_proj.weight"
  torch::Tensor param;             // our parameter (undefined once its projection is quantized)
  std::vector<int64_t> shape;      // the expected checkpoint shape (logical, before packing)
  bool optional = false;           // absent from base checkpoints (the score head): initialized
  LinearImpl* projection = nullptr;  // set for decoder projections, which may arrive in NF4
};

// Every parameter of the classifier, in checkpoint order.
std::vector<HfParam> hf_parameter_table(Gemma2ClassifierImpl& model);

// Checkpoint names that are expected but never loaded (e.g. the tied LM head of a causal-LM
// checkpoint). Any other name we do not know is an error.
bool hf_name_is_ignored(const std::string& hf_name);

}  // namespace arena
