// The classifier a run trains: the base from a Gemma-2 directory (or a seeded random init of a
// Gemma-2 shape), frozen in NF4, with LoRA adapters and the score head, on this rank's device.
// Trainable tensors are kept in fp32 even when the model computes in bf16 (autocast-style).
#pragma once

#include <torch/types.h>

#include <string>

#include "dist/world.h"
#include "launch/train_config.h"
#include "model/gemma/classifier.h"
#include "model/peft/qlora.h"

namespace arena {

// cpu, or cuda:<local rank mod visible GPUs> (device = auto picks CUDA when available).
torch::Device pick_device(const TrainConfig& c, const World& w);
// bf16 or fp32 for `device` under model.precision.
torch::ScalarType compute_dtype(const TrainConfig& c, const torch::Device& device);
// The Gemma-2 shape of a random init (model.preset / model.* sizes).
GemmaConfig random_init_config(const TrainConfig& c);

// The QLoRA recipe of the run's [model] nf4 and [lora] settings.
QloraOptions qlora_options(const TrainConfig& c);

// model.embedding: keep the frozen token table in host memory (auto: when `device` is a GPU).
bool embedding_on_host(const TrainConfig& c, const torch::Device& device);

// Builds (or loads) the model, applies the QLoRA recipe and moves it to `device`. The random base
// depends only on train.seed, the shape and the device type, so eval/predict rebuild the same one.
GemmaClassifier build_classifier(const TrainConfig& c, const torch::Device& device, bool verbose);

// A checksum of the frozen base (embedding, norms, NF4 codes and scales): a checkpoint remembers it
// so eval/predict refuse a checkpoint trained on another base.
double base_fingerprint(GemmaClassifierImpl& model);
// True when a stored fingerprint is this base's (equal up to summation-order rounding).
bool same_base(double stored, double current);

}  // namespace arena
