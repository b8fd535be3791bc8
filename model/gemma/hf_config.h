// A GemmaConfig as the config.json transformers (>= 5) writes for the matching sequence classifier:
// Gemma2ForSequenceClassification (model_type gemma2) or Gemma3TextForSequenceClassification
// (gemma3_text), with rope_parameters keyed as transformers 5 keys them, layer_types from the
// sliding pattern, and the class names as id2label. parse_gemma_config() reads it back unchanged.
#pragma once

#include <string>
#include <vector>

#include "model/gemma/config.h"

namespace arena {

// `dtype`: transformers' name of the weights' dtype ("bfloat16", "float32"); `labels`: one name per
// class (num_labels of them).
std::string hf_config_json(const GemmaConfig& c, const std::string& dtype, const std::vector<std::string>& labels);

}  // namespace arena
