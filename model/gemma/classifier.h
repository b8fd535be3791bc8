// Gemma (Gemma-2, Gemma-3 text) as a sequence classifier, numerically the same as transformers'
// Gemma2ForSequenceClassification / Gemma3TextForSequenceClassification (eager attention).
//
//   ids [B, S] -> embed · sqrt(hidden) -> N decoder layers -> final RMSNorm -> hidden [B, S, H]
//   -> hidden at the last non-pad token of each row -> score (Linear H -> num_labels, no bias).
// Nothing reads the last layer's output elsewhere, so that layer runs its queries, MLP and norms
// at the pooled token only (GemmaModelImpl::forward_at): nearly one layer's work and activations
// of the N, which the reference computes at every position and throws away.
//
// Module names mirror the Hugging Face ones (model.layers.3.self_attn.q_proj, score, ...); the
// loader still goes through the explicit table in hf_names.h.
// Compute dtype is the parameters' dtype (fp32 or bf16); norms, softmax and the loss use fp32.
#pragma once

#include <torch/nn/module.h>
#include <torch/nn/modules/container/modulelist.h>
#include <torch/nn/pimpl.h>

#include <functional>

#include "model/gemma/config.h"
#include "model/gemma/decoder_layer.h"
#include "model/lora/linear.h"
#include "model/nn/embedding.h"
#include "model/nn/rms_norm.h"

namespace arena {

class GemmaModelImpl : public torch::nn::Module {
 public:
  GemmaModelImpl(const GemmaConfig& config, const torch::TensorOptions& options);

  // input_ids [B, S] int64; attention_mask [B, S] (1 real, 0 pad); position_ids [B|1, S] or
  // undefined for 0..S-1 (the reference's default, also for left-padded rows).
  // Returns the final-normed hidden states [B, S, hidden].
  torch::Tensor forward(const torch::Tensor& input_ids, const torch::Tensor& attention_mask,
                        const torch::Tensor& position_ids = {});
  // forward()[b, rows[b]] for each row b, [B, hidden] (rows [B] int64), without the last layer's
  // work at the other positions: its keys and values over all of them, the rest only at rows[b].
  // The values equal forward()'s up to the summation order of GEMMs of another shape.
  torch::Tensor forward_at(const torch::Tensor& input_ids, const torch::Tensor& attention_mask,
                           const torch::Tensor& rows, const torch::Tensor& position_ids = {});

  // Recompute each decoder layer's activations in backward instead of storing them.
  void set_recompute(bool on) { recompute_ = on; }
  bool recompute() const { return recompute_; }
  // With recompute on: only the first `n` layers that build a graph (those with trainable
  // parameters or a gradient-carrying input) recompute; the rest keep their activations, a dial
  // between memory and the recompute forward's time. Negative: all of them.
  void set_recompute_layers(int64_t n) { recompute_layers_ = n; }
  int64_t recompute_layers() const { return recompute_layers_; }

  const GemmaConfig& config() const { return config_; }

  ScaledEmbedding embed_tokens{nullptr};  // tied to the LM head in the published model
  std::vector<DecoderLayer> layers;
  RMSNorm norm{nullptr};

 private:
  // Embedding and every layer, the last only at `rows` when they are defined ([B, 1, hidden]).
  torch::Tensor run_layers(const torch::Tensor& input_ids, const torch::Tensor& attention_mask,
                           const torch::Tensor& position_ids, const torch::Tensor& rows);

  GemmaConfig config_;
  bool recompute_ = false;
  int64_t recompute_layers_ = -1;
};
TORCH_MODULE(GemmaModel);

class GemmaClassifierImpl : public torch::nn::Module {
 public:
  GemmaClassifierImpl(const GemmaConfig& config, const torch::TensorOptions& options);

  // Pooled logits [B, num_labels] in the compute dtype, taken at last_token_index(input_ids).
  torch::Tensor forward(const torch::Tensor& input_ids, const torch::Tensor& attention_mask,
                        const torch::Tensor& position_ids = {});

  const GemmaConfig& config() const { return model->config(); }

  GemmaModel model{nullptr};
  Linear score{nullptr};
  // Runs at the start of every forward when set: the trainer refreshes the compute copies of its
  // fp32 trainable tensors there (model/peft/qlora.h, attach_compute_copies).
  std::function<void()> before_forward;
};
TORCH_MODULE(GemmaClassifier);

// Index of the rightmost token that is not pad_id, per row ([B] int64): correct for left and
// right padding alike. A row of only pads gives 0, as in the reference.
torch::Tensor last_token_index(const torch::Tensor& input_ids, int64_t pad_id);

// Mean cross-entropy of logits [B, L] against labels [B] (int64), computed in fp32.
torch::Tensor classification_loss(const torch::Tensor& logits, const torch::Tensor& labels);

// Parameter count of a module (works on meta tensors: nothing is allocated).
int64_t parameter_count(const torch::nn::Module& module);

}  // namespace arena
