// PEFT's LoRA adapter format: adapter_model.safetensors + adapter_config.json, loadable by
// PeftModel.from_pretrained on transformers' Gemma2ForSequenceClassification (head included).
#pragma once

#include <string>

#include "model/gemma/classifier.h"
#include "model/peft/qlora.h"

namespace arena {

// Writes `dir`/adapter_model.safetensors (LoRA A/B of every adapted projection and the score
// head, PEFT names, in their training dtype) and `dir`/adapter_config.json describing `options`.
// `base_model` is recorded as base_model_name_or_path. Creates `dir`; files appear atomically.
void save_peft_adapter(GemmaClassifierImpl& model, const QloraOptions& options, const std::string& dir,
                       const std::string& base_model);

// Copies a PEFT adapter's tensors into a model already prepared with apply_qlora(): every
// trainable tensor must be present with its shape, nothing else may be. Returns the count.
int64_t load_peft_adapter(GemmaClassifierImpl& model, const std::string& dir);

// Writes the base weights (projections dequantized when NF4) in HF names and `dtype` to one
// safetensors file: what PEFT's base must hold to reproduce our numbers exactly.
void save_dense_base(GemmaClassifierImpl& model, const std::string& path, torch::ScalarType dtype);

}  // namespace arena
