// Gemma models from llama.cpp GGUF files (general.architecture "gemma3": the Gemma-3 text models,
// e.g. gemma-3-270m-q4_k_m.gguf), into the same classifier the safetensors loader builds.
//
// What llama.cpp does on the way, and how it is undone (facts from its converter and loader, and
// from transformers' GGUF loader, checked on the real file: see docs/architecture.md):
//   - names: blk.N.attn_q ... (model/gemma/hf_names.h: hf_name_of_gguf);
//   - every `*norm.weight` is stored as (1 + w): we subtract 1 (exact in fp32);
//   - q/k weights are not permuted (Gemma's RoPE is rotate-half, llama.cpp's NEOX);
//   - the tensors are quantized (Q4_K, Q5_0, ...): dequantized to fp32 bit-identically to the
//     gguf package, then cast to the model dtype;
//   - facts llama.cpp keeps in code, not in the file: 5 of 6 layers slide, the sliding layers'
//     RoPE base is 10,000 (unless rope.freq_base_swa is stored), the query scale is head_dim^-½
//     except for the 62-layer 27B (hidden/heads), and the LM head is the embedding (tied).
#pragma once

#include <torch/types.h>

#include <string>
#include <vector>

#include "model/gemma/classifier.h"
#include "model/gemma/config.h"
#include "model/io/gguf.h"
#include "model/io/loader.h"

namespace arena {

// The architecture a GGUF file describes. Throws arena::Error naming the file and the key on an
// architecture other than gemma3 or a missing/mistyped key.
GemmaConfig gguf_gemma_config(const GgufFile& file);

// Every tensor of the table from `file` into `model` (dequantized, norms shifted back). The
// score head is not in a language-model file: it stays as initialized (report.initialized).
// Throws arena::Error naming the file and tensor on a missing, unknown or mis-shaped tensor, or
// one whose type cannot be dequantized.
LoadReport load_gguf_weights(GemmaClassifierImpl& model, const GgufFile& file);

// `path` (a .gguf file) -> a classifier in `dtype` on `device`; arguments as load_gemma_classifier.
GemmaClassifier load_gguf_classifier(const std::string& path, torch::ScalarType dtype, torch::Device device,
                                     int64_t num_labels = 0, LoadReport* report = nullptr,
                                     bool embedding_on_host = false);

}  // namespace arena
