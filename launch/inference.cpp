#include "launch/inference.h"

#include <torch/torch.h>

#include <cmath>
#include <map>

#include "common/error.h"
#include "dist/world.h"
#include "launch/checkpoint.h"
#include "launch/heap_policy.h"
#include "launch/model_setup.h"
#include "model/peft/qlora.h"

namespace arena {

TrainedModel load_trained(const std::string& from, const std::string& device, const std::string& attention) {
  TrainedModel out;
  out.checkpoint = find_checkpoint(from);
  const auto ck = read_checkpoint(out.checkpoint);
  load_toml_text(out.config, ck.config_toml, out.checkpoint + " (config)");
  out.config.device = device;
  if (!attention.empty()) out.config.attention = attention;
  out.step = ck.state.step;
  out.device = pick_device(out.config, world());
  if (out.device.is_cpu()) keep_freed_memory_in_heap();  // forward passes only from here on
  out.model = build_classifier(out.config, out.device, false);
  out.model->eval();
  const double fp = base_fingerprint(*out.model);
  check(same_base(ck.base_fingerprint, fp),
        "{}: trained on another base model (fingerprint {} vs {}); model.path in its config is '{}'", out.checkpoint,
        ck.base_fingerprint, fp, out.config.model_path);
  std::map<std::string, torch::Tensor> stored(ck.trainable.begin(), ck.trainable.end());
  torch::NoGradGuard no_grad;
  const auto trainable = peft_trainable_parameters(*out.model);
  check(stored.size() == trainable.size(), "{}: holds {} trainable tensors, the model has {}", out.checkpoint,
        stored.size(), trainable.size());
  for (const auto& [name, t] : trainable) {
    const auto it = stored.find(name);
    check(it != stored.end(), "{}: lacks trainable tensor '{}'", out.checkpoint, name);
    check(it->second.sizes() == t.sizes(), "{}: tensor '{}' has shape [{}], the model expects [{}]", out.checkpoint, name,
          fmt::join(it->second.sizes(), ","), fmt::join(t.sizes(), ","));
    t.copy_(it->second);
  }
  return out;
}

}  // namespace arena
