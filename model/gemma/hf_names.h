// The explicit table between Hugging Face tensor names and our parameters.
// Written out by hand (not derived from module reflection) so a renamed module cannot silently
// change what a checkpoint name loads into.
#pragma once

#include <torch/types.h>

#include <string>
#include <vector>

#include "model/gemma/classifier.h"

namespace arena {

struct HfParam {
  std::string hf_name;             // e.g. "model.layers.3.self_attn.q_proj.weight"
  torch::Tensor param;             // our parameter (undefined once its projection is quantized)
  std::vector<int64_t> shape;      // the expected checkpoint shape (logical, before packing)
  bool optional = false;           // absent from base checkpoints (the score head): initialized
  LinearImpl* projection = nullptr;  // set for decoder projections, which may arrive in NF4
};

// Every parameter of the classifier, in checkpoint order.
std::vector<HfParam> hf_parameter_table(GemmaClassifierImpl& model);

// The Hugging Face name of a tensor in a llama.cpp GGUF file of a Gemma model ("blk.3.ffn_norm.weight"
// -> "model.layers.3.pre_feedforward_layernorm.weight"); empty for a name outside the table.
// Names only: llama.cpp's converter also stores every norm weight as (1 + w), which the GGUF loader
// undoes (model/io/gguf_loader.h).
std::string hf_name_of_gguf(const std::string& gguf_name);

// Checkpoint names that are expected but never loaded (e.g. the tied LM head of a causal-LM
// checkpoint). Any other name we do not know is an error.
bool hf_name_is_ignored(const std::string& hf_name);

}  // namespace arena
