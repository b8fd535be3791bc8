// Reading bitsandbytes-serialized 4-bit weights (what transformers' save_pretrained writes for a
// BitsAndBytesConfig(load_in_4bit=True) model, e.g. unsloth/gemma-2-2b-bnb-4bit). For a weight <w>:
//   <w>                                  uint8 [ceil(n/2), 1], packed NF4 codes
//   <w>.absmax                           fp32 [blocks], or uint8 [blocks] with double quantization
//   <w>.quant_map                        fp32 [16], the NF4 codebook
//   <w>.nested_absmax, <w>.nested_quant_map   fp32, with double quantization only
//   <w>.quant_state.bitsandbytes__nf4    uint8 bytes of a JSON object: quant_type, blocksize, dtype,
//                                        shape, and nested_blocksize, nested_offset when nested
#pragma once

#include <string>
#include <vector>

#include "model/io/safetensors.h"
#include "model/quant/nf4.h"

namespace arena {

// True when the checkpoint stores <weight_name> in bitsandbytes 4-bit form.
bool has_bnb_4bit(const SafetensorsCheckpoint& ckpt, const std::string& weight_name);

// The companion tensor names of a serialized 4-bit weight that exist in `ckpt`.
std::vector<std::string> bnb_companion_names(const SafetensorsCheckpoint& ckpt, const std::string& weight_name);

// Reads one NF4 weight; `expected_shape` is the logical [out, in]. Throws arena::Error naming
// the tensor and file for FP4 weights, a foreign codebook, shapes or sizes that do not agree.
Nf4Weight read_bnb_nf4(const SafetensorsCheckpoint& ckpt, const std::string& weight_name,
                       const std::vector<int64_t>& expected_shape);

}  // namespace arena
