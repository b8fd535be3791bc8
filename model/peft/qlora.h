// The QLoRA recipe applied to a loaded classifier: every decoder projection frozen in NF4, LoRA
// adapters on the chosen projections of the chosen layers, the `score` head trainable, and
// nothing else. Names of trainable tensors follow PEFT's adapter format.
#pragma once

#include <torch/types.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "model/gemma/classifier.h"
#include "model/lora/compute_copies.h"
#include "model/lora/linear.h"

namespace arena {

struct QloraOptions {
  bool quantize = true;      // NF4 base (false: LoRA on a dense frozen base, e.g. for parity tests)
  bool double_quant = true;  // bnb_4bit_use_double_quant
  LoraOptions lora;
  // Projections that get adapters (PEFT's target_modules).
  std::vector<std::string> target_modules{"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"};
  // Layers that get adapters, inclusive; the seed recipe leaves the first 6 layers without any.
  int64_t first_layer = 6;
  int64_t last_layer = -1;  // -1: the last layer
};

// The projections of one decoder layer by PEFT module name (q_proj ... down_proj) with their
// path inside the layer (self_attn.q_proj, mlp.down_proj, ...).
std::vector<std::pair<std::string, Linear>> layer_projections(DecoderLayerImpl& layer);

// Applies the recipe in place. Quantizes projections that are still dense (a bnb checkpoint
// may have loaded them already in NF4). Throws on an unknown target module or an empty range.
void apply_qlora(GemmaClassifierImpl& model, const QloraOptions& options);

// The layers that carry adapters under `options` for a model of `num_layers` layers.
std::vector<int64_t> lora_layers(const QloraOptions& options, int64_t num_layers);

// Trainable tensors with PEFT's names, in a fixed order (layer, module, A then B; head last):
//   base_model.model.model.layers.{i}.{self_attn|mlp}.{name}.lora_{A|B}.weight, base_model.model.score.weight
std::vector<std::pair<std::string, torch::Tensor>> peft_trainable_parameters(GemmaClassifierImpl& model);

// Keeps the trainable tensors in fp32 whatever the model computes in (PEFT's autocast_adapter_dtype):
// the adapters are cast to the activations' dtype where they are used, their gradients and the
// optimizer's state stay fp32. What the trainer runs.
void trainables_to_fp32(GemmaClassifierImpl& model);
// For forward passes only (eval, predict): the trainable tensors in the model's compute dtype, so no
// use casts them (on the 2B recipe 281 small kernels per forward); the values every such cast would
// give. Training, which updates them, and export, which writes them, keep fp32.
void trainables_to_compute_dtype(GemmaClassifierImpl& model);

// For a model that computes in bf16 or fp16 with its trainable tensors in fp32: compute-dtype copies
// of them (model/lora/compute_copies.h), refreshed at the start of each forward when the tensors
// changed. `named` and `flat` are the gradient bucket's named() and params(); call fold_grads with
// its grads() after each backward. The copies are uninstalled when the returned object goes; for a
// model that computes in fp32 it installs nothing and does nothing.
std::shared_ptr<ComputeCopies> attach_compute_copies(GemmaClassifierImpl& model, const ComputeCopies::Named& named,
                                                     const torch::Tensor& flat);

}  // namespace arena
