// Helper of the merged-export test (tests/model/peft/merged_check.py): builds a QLoRA model from a
// tiny fixture (CASE: gemma2/gqa4l or gemma3/g3_4l) with random adapters and head, writes the merged
// checkpoint, and our logits three ways into OUT_DIR:
//   merged/                  save_merged_model(): config.json + bf16 model.safetensors
//   ours.safetensors         logits of the trained model (NF4 base + LoRA, fp32 compute): "trained";
//                            of arena loading merged/ back (the same bf16 weights, fp32 compute):
//                            "merged_bf16"; of merged/ re-quantized to NF4: "merged_nf4"; the batch
#include <torch/torch.h>

#include <filesystem>
#include <iostream>

#include "model/io/loader.h"
#include "model/io/safetensors.h"
#include "model/peft/merged_export.h"
#include "model/peft/qlora.h"

int main(int argc, char** argv) {
  namespace fs = std::filesystem;
  if (argc != 4) {
    std::cerr << "usage: merged_export_check SOURCE_DIR OUT_DIR CASE\n";
    return 2;
  }
  try {
    const fs::path fixture = fs::path(argv[1]) / "tests" / "fixtures" / argv[3];
    const fs::path out = argv[2];
    torch::manual_seed(4321);
    auto model = arena::load_gemma_classifier((fixture / "model").string(), torch::kFloat32, torch::kCPU);
    arena::QloraOptions options;
    options.lora.rank = 4;
    options.lora.alpha = 8;
    options.lora.dropout = 0.0;
    options.first_layer = 1;  // layer 0 keeps its projections unadapted (dequantized as they are)
    arena::apply_qlora(*model, options);
    {
      torch::NoGradGuard no_grad;
      for (auto& [name, p] : arena::peft_trainable_parameters(*model)) p.normal_(0.0, 0.05);
    }
    const auto merged = (out / "merged").string();
    const auto labels = std::vector<std::string>{"model_a", "model_b", "tie"};
    arena::save_merged_model(*model, merged,
                             torch::kBFloat16, {labels.begin(), labels.begin() + model->config().num_labels});

    const auto batch = arena::SafetensorsFile::open((fixture / "reference.safetensors").string());
    const auto ids = batch->tensor("input_ids").clone(), mask = batch->tensor("attention_mask").clone();
    torch::NoGradGuard no_grad;
    const auto trained = model->forward(ids, mask);
    auto back = arena::load_gemma_classifier(merged, torch::kFloat32, torch::kCPU);
    const auto merged_bf16 = back->forward(ids, mask);
    for (auto& layer : back->model->layers)
      for (auto& [name, proj] : arena::layer_projections(*layer)) proj->quantize(/*double_quant=*/true);
    const auto merged_nf4 = back->forward(ids, mask);
    arena::save_safetensors((out / "ours.safetensors").string(),
                            {{"trained", trained}, {"merged_bf16", merged_bf16}, {"merged_nf4", merged_nf4},
                             {"input_ids", ids}, {"attention_mask", mask}});
  } catch (const std::exception& e) {
    std::cerr << "merged_export_check: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
