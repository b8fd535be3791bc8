// The baselines (data/baselines.h) as `arena eval` and the end of `arena train` print them: one
// text line beside the model's metrics, and a JSON object (eval --json's "baselines" key and the
// metrics.jsonl "baselines" record).
#pragma once

#include <nlohmann/json.hpp>

#include <string>

#include "data/baselines.h"

namespace arena {

nlohmann::json baselines_json(const Baselines& b);

// "majority (model_a) 0.5150 | longer answer 0.6450 by chars, 0.6400 by tokens | prior log loss 0.6929"
std::string baselines_text(const Baselines& b);

}  // namespace arena
