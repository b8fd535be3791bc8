// Everything a training run needs, in one struct with one definition per setting.
//
// Each setting is declared once in config_fields(): its key ("optim.lr"), its help text and the
// member it fills. The TOML reader (-c FILE, sections = the part before the dot), the command-line
// options (--optim.lr, plus short aliases such as --data) and the resolved config written next to
// every run and inside every checkpoint all come from that one list, so they cannot drift apart.
// Precedence: built-in defaults < TOML file < command line.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

namespace arena {

struct TrainConfig {
  // [model]
  std::string model_path;           // HF Gemma-2 dir (config.json + safetensors) or *-bnb-4bit dir; "" = random init
  std::string model_preset = "custom";  // shape of a random init: custom (the fields below) | gemma2-2b
  int64_t hidden_size = 128, num_layers = 4, num_heads = 4, num_kv_heads = 2, head_dim = 32, intermediate_size = 512;
  int64_t num_labels = 2;
  double head_init_std = 0.02;      // the new score head: normal(0, std); 0: zeros
  std::string precision = "auto";   // auto (bf16 on CUDA, fp32 on CPU) | bf16 | fp32
  bool recompute = false;           // per-layer activation recomputation
  int64_t recompute_layers = -1;    // with recompute: how many layers (the first with a graph); -1 all
  bool nf4 = true;                  // frozen base in NF4 (bitsandbytes layout)
  std::string embedding = "auto";   // token table: auto (host on CUDA) | host | device
  std::string attention = "auto";   // attention core: auto | eager | flash (model/nn/softcap_attention.h)
  // [lora]
  int64_t lora_rank = 16;
  double lora_alpha = 32;
  double lora_dropout = 0.05;
  bool rslora = false;
  std::vector<std::string> lora_targets{"q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"};
  int64_t lora_first_layer = 6, lora_last_layer = -1;
  // [data]
  std::string data_path;
  std::string data_format = "auto";  // auto | lmsys | wsdm | pairwise | parquet
  std::string labels = "binary";     // binary (A/B, ties skipped and counted) | 3class
  std::string tokenizer = "../shared/gemma/tokenizer.model";
  int64_t max_len = 1900;
  bool show_lengths = false;  // state each answer's length in its heading (data/encode.h)
  int64_t split_seed = 0;
  double train_fraction = 0.7, val_fraction = 0.1;
  std::string token_cache = "auto";  // auto (<out>/tokens.h5) | none | a path
  // [batch]
  std::string batching = "tokens";   // tokens (length-grouped, token budget) | rows (fixed rows per batch)
  int64_t batch_rows = 8;            // rows per micro-batch (rows), or the cap on rows (tokens)
  int64_t batch_tokens = 8192;       // padded tokens per micro-batch (tokens)
  int64_t accum_steps = 1;           // micro-batches per optimizer step
  int64_t eval_rows = 16;            // rows per evaluation batch
  // [optim]
  double lr = 2e-4, weight_decay = 0.0, beta1 = 0.9, beta2 = 0.999, eps = 1e-8, max_grad_norm = 1.0;
  int64_t warmup_steps = -1;         // -1: warmup_ratio x total steps
  double warmup_ratio = 0.1;
  double head_lr = -1;               // peak lr of the score head; -1: optim.lr
  std::string decay = "linear";      // linear | cosine | constant
  int64_t epochs = 1;
  int64_t max_steps = -1;            // -1: epochs x steps per epoch
  // [train]
  std::string out = "runs/arena";
  int64_t eval_every = 0;            // optimizer steps between validation runs; 0: at each epoch's end
  int64_t checkpoint_every = 0;      // optimizer steps between checkpoints; 0: at each epoch's end
  int64_t keep_checkpoints = 2;
  int64_t log_every = 1;
  bool tensorboard = true;           // <out>/tensorboard/: TensorBoard event files of metrics.jsonl (rank 0)
  int64_t seed = 0;                  // model init, LoRA dropout
  std::string nonfinite = "skip";    // skip (every rank skips the step) | stop
  std::string backend = "auto";      // auto | nccl | mpi | none
  double dist_timeout = 600;         // [dist] timeout: seconds a collective may take before the job ends
  std::string device = "auto";       // auto (cuda:<local rank> when CUDA is available, else cpu) | cpu | cuda
  int64_t threads = 0;               // intra-op threads per rank; 0: cores / local ranks
  std::string init_from;             // start from a run's checkpoint or a PEFT adapter (fresh optimizer)
  std::string resume;                // run dir or checkpoint file to continue from
  bool resume_fallback = false;      // newest checkpoint corrupt: resume from the newest good one
  int64_t stop_after = -1;           // end this invocation after this optimizer step, with a checkpoint
  std::string swap = "none";         // A/B swap augmentation: none | both | random (launch/batches.h)
  bool log_batches = false;          // <out>/batches.jsonl: every step's row ids (launch/run_record.h)
  std::string objective = "classify";  // classify (cross-entropy) | distill (teacher soft targets) | reward (Bradley-Terry)
  // [distill]
  std::vector<std::string> distill_teachers;  // teacher probability files (data/teacher.h)
  std::vector<double> distill_weights;        // one per teacher; empty: equal
  std::vector<std::string> distill_columns;   // probability columns; empty: winner_model_a, winner_model_b[, winner_tie]
  double distill_temperature = 1.0;
  double distill_hard_weight = 0.0;           // share of the hard-label cross-entropy in the loss
  double distill_tolerance = 1e-3;            // a teacher row must sum to 1 within this
  // [reward]
  double reward_center_coefficient = 0.0;     // TRL's center_rewards_coefficient; 0: off
};

// One setting: key "section.name", help text, and access to the member as text.
struct ConfigField {
  std::string key;
  std::string help;
  std::string type;                                  // int | float | string | bool | list
  std::function<void(const std::string&)> set;       // parse text (command line)
  std::function<std::string()> get;                  // current value as TOML text
  std::function<void(const void* toml_node)> set_toml;  // from a toml::node (opaque here)
  std::vector<std::string> aliases;                  // extra command-line names (--data, --model, ...)
};

std::vector<ConfigField> config_fields(TrainConfig& c);

// Applies a TOML file / TOML text (on top of what `c` holds); unknown sections or keys and wrong types are errors naming the
// file and the key.
void load_toml_file(TrainConfig& c, const std::string& path);
void load_toml_text(TrainConfig& c, const std::string& text, const std::string& source);
// The resolved config as TOML (what load_toml_text reads back).
std::string to_toml(TrainConfig& c);
// Applies a preset's shape (model.preset) and checks ranges; throws naming the setting.
void validate(TrainConfig& c);

}  // namespace arena
