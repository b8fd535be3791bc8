// The language-model view of a Gemma decoder: next-token loss through the tied embedding, as
// transformers' Gemma2ForCausalLM / Gemma3ForCausalLM compute it (logits = hidden · Eᵀ, then
// final_logit_softcapping when the config sets it, cross-entropy in fp32). Used to prove that
// real pretrained weights load right (`arena perplexity`).
#pragma once

#include <torch/types.h>

#include "model/gemma/classifier.h"

namespace arena {

struct NextTokenLoss {
  double sum_nll = 0;     // Σ −log p(token t+1 | tokens ≤ t) over the predicted tokens
  int64_t tokens = 0;     // predicted tokens: S − 1 for one unpadded row
  double mean() const { return tokens > 0 ? sum_nll / static_cast<double>(tokens) : 0.0; }
};

// ids [1, S] int64 (<bos> first, no padding). Runs without autograd. The [S, vocab] logits are
// made `chunk` positions at a time, so memory stays at chunk·vocab floats (262,144-token vocab:
// 1 MiB per position in fp32); each chunk reads the whole embedding table once.
NextTokenLoss next_token_loss(GemmaModelImpl& model, const torch::Tensor& ids, int64_t chunk = 256);

}  // namespace arena
