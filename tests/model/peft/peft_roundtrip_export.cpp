// Helper of the PEFT round-trip test (tests/model/peft/peft_roundtrip.py): builds a QLoRA model from
// a tiny fixture (CASE: gemma2/gqa4l, gemma3/g3_4l for Gemma-3, or reward for a one-output reward head), gives it an adapter of its own (random A, B and head, not the fixture's), and
// writes into OUT_DIR:
//   base/config.json + base/model.safetensors   the base as PEFT must see it (NF4 dequantized)
//   adapter/                                    our export (adapter_model.safetensors + config)
//   ours.safetensors                            our logits on the fixture batch
#include <torch/torch.h>

#include <filesystem>
#include <iostream>

#include "model/io/loader.h"
#include "model/io/safetensors.h"
#include "model/peft/peft_adapter.h"
#include "model/peft/qlora.h"

int main(int argc, char** argv) {
  namespace fs = std::filesystem;
  if (argc != 3 && argc != 4) {
    std::cerr << "usage: peft_roundtrip_export SOURCE_DIR OUT_DIR [CASE (default gemma2/gqa4l)]\n";
    return 2;
  }
  try {
    const fs::path fixtures = fs::path(argv[1]) / "tests" / "fixtures";
    const fs::path out = argv[2];
    const fs::path fixture = fixtures / (argc == 4 ? argv[3] : "gemma2/gqa4l");
    const auto base_dir = fixture / "model";
    torch::manual_seed(1234);
    auto model = arena::load_gemma_classifier(base_dir.string(), torch::kFloat32, torch::kCPU);
    arena::QloraOptions options;
    options.lora.rank = 8;
    options.lora.alpha = 4;
    options.lora.rslora = true;  // exercises use_rslora in the exported config
    options.lora.dropout = 0.0;
    options.target_modules = {"q_proj", "v_proj", "down_proj"};
    options.first_layer = 1;
    options.last_layer = 2;  // both fixtures have at least 3 layers
    arena::apply_qlora(*model, options);
    {
      torch::NoGradGuard no_grad;
      for (auto& [name, p] : arena::peft_trainable_parameters(*model)) p.normal_(0.0, 0.2);
    }
    fs::create_directories(out / "base");
    fs::copy_file(base_dir / "config.json", out / "base" / "config.json", fs::copy_options::overwrite_existing);
    arena::save_dense_base(*model, (out / "base" / "model.safetensors").string(), torch::kFloat32);
    arena::save_peft_adapter(*model, options, (out / "adapter").string(), (out / "base").string());

    const auto batch = arena::SafetensorsFile::open((fixture / "reference.safetensors").string());
    torch::NoGradGuard no_grad;
    const auto logits = model->forward(batch->tensor("input_ids").clone(), batch->tensor("attention_mask").clone());
    arena::save_safetensors((out / "ours.safetensors").string(),
                            {{"logits", logits}, {"input_ids", batch->tensor("input_ids")},
                             {"attention_mask", batch->tensor("attention_mask")}});
  } catch (const std::exception& e) {
    std::cerr << "peft_roundtrip_export: " << e.what() << "\n";
    return 1;
  }
  return 0;
}
