// N(0, std²) initialization that draws the same values in every float dtype: fp32 and fp64 draw in
// place; bf16 and fp16 draw fp32 values (in chunks, consuming the generator exactly as one fp32
// draw of the whole tensor does) and round them. So a model built in bf16 starts from its fp32
// twin's values rounded, and whatever is drawn after it (a fresh score head after the layers) is
// the same in both, which makes runs in the two precisions comparable.
#pragma once

#include <torch/types.h>

namespace arena {

// Fills t (contiguous, on any device) in place; no autograd.
void normal_init_(torch::Tensor& t, double std);

}  // namespace arena
