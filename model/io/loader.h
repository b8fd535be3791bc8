// Loading Gemma checkpoints into the classifier: Hugging Face directories (config.json +
// safetensors, Gemma-2 or Gemma-3 text, dense or bitsandbytes 4-bit) and llama.cpp GGUF files
// (model/io/gguf_loader.h).
#pragma once

#include <torch/types.h>

#include <string>
#include <vector>

#include "model/gemma/classifier.h"
#include "model/io/safetensors.h"

namespace arena {

struct LoadReport {
  int64_t loaded = 0;                    // tensors copied from the checkpoint
  int64_t quantized = 0;                 // of which arrived in bitsandbytes NF4 form
  std::vector<std::string> initialized;  // optional tensors absent from it (kept as initialized)
  std::vector<std::string> ignored;      // known tensors we do not use (tied lm_head, ...)
};

// Copies every tensor of the table from `checkpoint` into `model` (converting f32/bf16/f16 to
// the parameter dtype; one copy from the mapping into the parameter). Projections stored in
// bitsandbytes 4-bit form (model/io/bnb_format.h) are installed as NF4 weights unchanged. Throws arena::Error that
// names the tensor, its file and expected vs found shape on a missing, mis-shaped or unexpected
// tensor.
LoadReport load_hf_weights(GemmaClassifierImpl& model, const SafetensorsCheckpoint& checkpoint);

// The architecture of a checkpoint directory, a config.json, or a .gguf file.
GemmaConfig load_model_config(const std::string& path);

// config.json + weights of directory `dir` (or a .gguf file) -> a classifier in `dtype` on `device`.
// num_labels overrides the config's when > 0. embedding_on_host keeps the token table in host
// memory when `device` is a GPU (model/nn/embedding.h).
GemmaClassifier load_gemma_classifier(const std::string& dir, torch::ScalarType dtype, torch::Device device,
                                        int64_t num_labels = 0, LoadReport* report = nullptr,
                                        bool embedding_on_host = false);

}  // namespace arena
