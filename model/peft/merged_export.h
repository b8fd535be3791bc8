// The trained classifier as one complete Hugging Face checkpoint, adapters merged into the base:
//   config.json          Gemma2ForSequenceClassification / Gemma3TextForSequenceClassification
//                        (model/gemma/hf_config.h), the class names as id2label
//   model.safetensors    every weight in `dtype` (bf16 for a hand-off), HF names: each adapted
//                        projection W' = dequant(W) + scaling·B·A computed in fp32 and rounded
//                        once; the other weights (embedding, norms, unadapted projections
//                        dequantized, the score head) as they are
// transformers loads it with AutoModelForSequenceClassification.from_pretrained(dir), no PEFT.
//
// Why not back into 4 bits: NF4 keeps 16 levels per block of 64 weights, and a LoRA update moves
// most weights by less than one level, so re-quantizing W' rounds the update away and adds a fresh
// quantization error on top. bf16 rounds each weight by at most 2^-9 of itself. Measured on the
// tiny Gemma-2 and Gemma-3 fixtures with random adapters (tests/model/peft/merged_check.py): the
// merged bf16 model's logits differ from the trained model's by 0.4-0.6 % of the largest logit,
// the merge re-quantized to NF4 by 6.6-7.6 %.
#pragma once

#include <torch/types.h>

#include <string>
#include <vector>

#include "model/gemma/classifier.h"
#include "model/lora/linear.h"

namespace arena {

// dequant(W) + scaling·B·A in fp32 (W alone when the projection has no adapter).
torch::Tensor merged_weight(const LinearImpl& projection);

// Writes `dir`/config.json and `dir`/model.safetensors (files appear atomically). `labels`: one
// name per class.
void save_merged_model(GemmaClassifierImpl& model, const std::string& dir, torch::ScalarType dtype,
                       const std::vector<std::string>& labels);

}  // namespace arena
