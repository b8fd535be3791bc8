#include "model/gemma/lm_loss.h"

#include <torch/torch.h>

#include "common/error.h"

namespace arena {

NextTokenLoss next_token_loss(GemmaModelImpl& model, const torch::Tensor& ids, int64_t chunk) {
  check(ids.dim() == 2 && ids.size(0) == 1, "next_token_loss: expected ids [1, S] (got {} dims, {} rows)", ids.dim(),
        ids.dim() > 0 ? ids.size(0) : 0);
  check(chunk > 0, "next_token_loss: chunk must be positive (got {})", chunk);
  torch::NoGradGuard no_grad;
  const int64_t seq = ids.size(1);
  NextTokenLoss out;
  if (seq < 2) return out;
  const auto on_device = ids.to(model.embed_tokens->output_device());
  const auto hidden = model.forward(on_device, torch::ones_like(on_device));  // [1, S, H]
  // The LM head is the embedding table itself (tied), unscaled.
  const auto& table = model.embed_tokens->weight;
  const double cap = model.config().final_logit_softcapping;
  for (int64_t start = 0; start < seq - 1; start += chunk) {
    const int64_t n = std::min(chunk, seq - 1 - start);
    const auto h = hidden[0].narrow(0, start, n).to(table.device(), table.scalar_type());
    auto logits = torch::matmul(h, table.t());  // [n, vocab] in the compute dtype, as the reference
    if (cap > 0) logits = torch::tanh(logits / cap) * cap;
    const auto targets = ids[0].narrow(0, start + 1, n).to(table.device());
    out.sum_nll += torch::nn::functional::cross_entropy(
                       logits.to(torch::kFloat32), targets,
                       torch::nn::functional::CrossEntropyFuncOptions().reduction(torch::kSum))
                       .item<double>();
  }
  out.tokens = seq - 1;
  return out;
}

}  // namespace arena
