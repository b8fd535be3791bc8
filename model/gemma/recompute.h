// Activation recomputation ("gradient checkpointing") for one decoder layer.
//
// The forward pass keeps only the layer's input; backward runs the layer again with autograd on
// and differentiates that copy. Gradients equal those of the plain layer. Trainable parameters of
// the layer are explicit inputs of the autograd node, so gradients reach them even when nothing
// upstream requires grad (a frozen embedding with LoRA only in the layers).
//
// The default generator of x's device is saved before the forward and replayed for the
// recompute, so dropout draws the same masks both times.
// Contract: `layer` must outlive the autograd graph built by this call.
#pragma once

#include <torch/types.h>

#include "model/gemma/decoder_layer.h"

namespace arena {

// rows: as DecoderLayerImpl::forward's (undefined: every position).
torch::Tensor recompute_layer(DecoderLayerImpl& layer, const torch::Tensor& x, const torch::Tensor& cos,
                              const torch::Tensor& sin, const torch::Tensor& bias, const torch::Tensor& rows = {});

}  // namespace arena
