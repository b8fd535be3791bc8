#include "launch/train_config.h"

#include <toml++/toml.h>

#include <algorithm>
#include <map>
#include <sstream>

#include "common/error.h"

namespace arena {
namespace {

std::string quote(const std::string& s) {
  std::ostringstream out;
  out << toml::value<std::string>(s);
  return out.str();
}

bool parse_bool(const std::string& key, const std::string& v) {
  if (v == "true" || v == "1" || v == "on" || v == "yes") return true;
  if (v == "false" || v == "0" || v == "off" || v == "no") return false;
  throw Error(fmt::format("{}: expected true or false, got '{}'", key, v));
}

template <typename T>
T parse_number(const std::string& key, const std::string& v) {
  try {
    size_t used = 0;
    T out;
    if constexpr (std::is_same_v<T, double>) out = std::stod(v, &used);
    else out = static_cast<T>(std::stoll(v, &used));
    if (used == v.size()) return out;
  } catch (const std::exception&) {
  }
  throw Error(fmt::format("{}: expected {}, got '{}'", key, std::is_same_v<T, double> ? "a number" : "an integer", v));
}

std::vector<std::string> split_list(const std::string& v) {
  std::vector<std::string> out;
  std::stringstream in(v);
  std::string item;
  while (std::getline(in, item, ','))
    if (!item.empty()) out.push_back(item);
  return out;
}

ConfigField field(std::string key, std::string help, int64_t& ref, std::vector<std::string> aliases = {}) {
  return {key, std::move(help), "int", [&ref, key](const std::string& v) { ref = parse_number<int64_t>(key, v); },
          [&ref] { return std::to_string(ref); },
          [&ref, key](const void* n) {
            // value_exact: value<int64_t>() casts a float to int64, undefined when it is out of
            // range (found by tests/fuzz/fuzz_toml.cpp).
            const auto v = static_cast<const toml::node*>(n)->value_exact<int64_t>();
            check(v.has_value(), "{}: expected an integer", key);
            ref = *v;
          },
          std::move(aliases)};
}

ConfigField field(std::string key, std::string help, double& ref, std::vector<std::string> aliases = {}) {
  return {key, std::move(help), "float", [&ref, key](const std::string& v) { ref = parse_number<double>(key, v); },
          [&ref] {
            std::ostringstream out;
            out << toml::value<double>(ref);
            return out.str();
          },
          [&ref, key](const void* n) {
            const auto v = static_cast<const toml::node*>(n)->value<double>();
            check(v.has_value(), "{}: expected a number", key);
            ref = *v;
          },
          std::move(aliases)};
}

ConfigField field(std::string key, std::string help, std::string& ref, std::vector<std::string> aliases = {}) {
  return {key, std::move(help), "string", [&ref](const std::string& v) { ref = v; }, [&ref] { return quote(ref); },
          [&ref, key](const void* n) {
            const auto v = static_cast<const toml::node*>(n)->value<std::string>();
            check(v.has_value(), "{}: expected a string", key);
            ref = *v;
          },
          std::move(aliases)};
}

ConfigField field(std::string key, std::string help, bool& ref, std::vector<std::string> aliases = {}) {
  return {key, std::move(help), "bool", [&ref, key](const std::string& v) { ref = parse_bool(key, v); },
          [&ref] { return std::string(ref ? "true" : "false"); },
          [&ref, key](const void* n) {
            const auto v = static_cast<const toml::node*>(n)->value<bool>();
            check(v.has_value(), "{}: expected true or false", key);
            ref = *v;
          },
          std::move(aliases)};
}

ConfigField field(std::string key, std::string help, std::vector<std::string>& ref,
                  std::vector<std::string> aliases = {}) {
  return {key, std::move(help), "list", [&ref](const std::string& v) { ref = split_list(v); },
          [&ref] {
            std::string out = "[";
            for (size_t i = 0; i < ref.size(); ++i) out += (i ? ", " : "") + quote(ref[i]);
            return out + "]";
          },
          [&ref, key](const void* n) {
            const auto* arr = static_cast<const toml::node*>(n)->as_array();
            check(arr != nullptr, "{}: expected a list of strings", key);
            std::vector<std::string> v;
            for (const auto& item : *arr) {
              const auto s = item.value<std::string>();
              check(s.has_value(), "{}: expected a list of strings", key);
              v.push_back(*s);
            }
            ref = v;
          },
          std::move(aliases)};
}

ConfigField field(std::string key, std::string help, std::vector<double>& ref, std::vector<std::string> aliases = {}) {
  return {key, std::move(help), "numbers",
          [&ref, key](const std::string& v) {
            ref.clear();
            for (const auto& item : split_list(v)) ref.push_back(parse_number<double>(key, item));
          },
          [&ref] {
            std::string out = "[";
            for (size_t i = 0; i < ref.size(); ++i) {
              std::ostringstream one;
              one << toml::value<double>(ref[i]);
              out += (i ? ", " : "") + one.str();
            }
            return out + "]";
          },
          [&ref, key](const void* n) {
            const auto* arr = static_cast<const toml::node*>(n)->as_array();
            check(arr != nullptr, "{}: expected a list of numbers", key);
            std::vector<double> v;
            for (const auto& item : *arr) {
              const auto x = item.value<double>();
              check(x.has_value(), "{}: expected a list of numbers", key);
              v.push_back(*x);
            }
            ref = v;
          },
          std::move(aliases)};
}

void apply_table(TrainConfig& c, const toml::table& root, const std::string& source) {
  auto fields = config_fields(c);
  std::map<std::string, ConfigField*> by_key;
  for (auto& f : fields) by_key[f.key] = &f;
  for (const auto& [section, node] : root) {
    const auto* table = node.as_table();
    check(table != nullptr, "{}: '{}' must be a [section] (model, lora, data, batch, optim, train, distill, reward, dist)", source,
          std::string(section.str()));
    for (const auto& [name, value] : *table) {
      const std::string key = std::string(section.str()) + "." + std::string(name.str());
      const auto it = by_key.find(key);
      check(it != by_key.end(), "{}: unknown setting '{}' (see `arena train --help`)", source, key);
      try {
        it->second->set_toml(&value);
      } catch (const Error& e) {
        throw Error(fmt::format("{}: {}", source, e.what()));
      }
    }
  }
}

}  // namespace

std::vector<ConfigField> config_fields(TrainConfig& c) {
  return {
      field("model.path", "Gemma-2 directory (config.json + safetensors, or a *-bnb-4bit one); empty: random init",
            c.model_path, {"--model"}),
      field("model.preset", "shape of a random init: custom (the model.* sizes) or gemma2-2b", c.model_preset),
      field("model.hidden_size", "random init: hidden size", c.hidden_size),
      field("model.num_layers", "random init: decoder layers", c.num_layers),
      field("model.num_heads", "random init: query heads", c.num_heads),
      field("model.num_kv_heads", "random init: key/value heads (GQA)", c.num_kv_heads),
      field("model.head_dim", "random init: head dimension", c.head_dim),
      field("model.intermediate_size", "random init: GeGLU width", c.intermediate_size),
      field("model.num_labels", "classes: 2 (A/B) or 3 (A/B/tie)", c.num_labels),
      field("model.head_init_std",
            "std of the new score head's normal init (transformers' initializer_range: 0.02); 0: zeros, every "
            "class starts equally likely",
            c.head_init_std),
      field("model.precision", "auto (bf16 on CUDA, fp32 on CPU), bf16 or fp32", c.precision),
      field("model.recompute", "recompute each decoder layer in backward (less memory)", c.recompute),
      field("model.recompute_layers",
            "with recompute: recompute only the first N layers that train (the rest keep their activations: "
            "faster, more memory); -1: all",
            c.recompute_layers),
      field("model.nf4", "freeze the base in 4-bit NF4 (bitsandbytes layout)", c.nf4),
      field("model.embedding", "frozen token table: auto (host memory on CUDA), host or device", c.embedding),
      field("model.attention",
            "attention core: auto (fused kernels on CUDA, the chunked core on the CPU), eager (the reference "
            "chain), or flash (CUDA in bf16: flash-style kernels, forward and backward, no S x S buffer; not yet "
            "measured on a GPU)",
            c.attention),
      field("lora.rank", "LoRA rank r", c.lora_rank),
      field("lora.alpha", "LoRA alpha (scaling alpha/r)", c.lora_alpha),
      field("lora.dropout", "dropout on the adapters' input", c.lora_dropout),
      field("lora.rslora", "scale by alpha/sqrt(r) (rsLoRA)", c.rslora),
      field("lora.targets", "projections with adapters (comma list)", c.lora_targets),
      field("lora.first_layer", "first decoder layer with adapters", c.lora_first_layer),
      field("lora.last_layer", "last decoder layer with adapters (-1: the last)", c.lora_last_layer),
      field("data.path", "training file (LMSYS csv, WSDM parquet/jsonl/csv, pairwise jsonl)", c.data_path, {"--data"}),
      field("data.format", "auto, lmsys, wsdm, pairwise or parquet", c.data_format, {"--format"}),
      field("data.labels", "binary (ties skipped and counted) or 3class", c.labels, {"--labels"}),
      field("data.tokenizer", "Gemma SentencePiece tokenizer.model", c.tokenizer, {"--tokenizer"}),
      field("data.max_len", "tokens per pair (head+tail truncation)", c.max_len, {"--max-len"}),
      field("data.show_lengths", "state each answer's token count in its heading (truncation hides it)",
            c.show_lengths),
      field("data.split_seed", "seed of the 70/10/20 split by row id", c.split_seed),
      field("data.train_fraction", "share of rows in the train split", c.train_fraction),
      field("data.val_fraction", "share of rows in the validation split (test: the rest)", c.val_fraction),
      field("data.token_cache", "auto (<out>/tokens.h5), none, or an HDF5 path", c.token_cache),
      field("batch.batching", "tokens (length-grouped, token budget) or rows (fixed rows)", c.batching),
      field("batch.rows", "rows per micro-batch (rows), or the row cap (tokens)", c.batch_rows, {"--batch-size"}),
      field("batch.tokens", "padded tokens per micro-batch (tokens batching)", c.batch_tokens),
      field("batch.accum_steps", "micro-batches per optimizer step", c.accum_steps, {"--accum"}),
      field("batch.eval_rows", "rows per evaluation batch", c.eval_rows),
      field("optim.lr", "peak learning rate", c.lr, {"--lr"}),
      field("optim.weight_decay", "AdamW decoupled weight decay", c.weight_decay),
      field("optim.beta1", "AdamW beta1", c.beta1),
      field("optim.beta2", "AdamW beta2", c.beta2),
      field("optim.eps", "AdamW eps", c.eps),
      field("optim.max_grad_norm", "clip the global gradient norm (0: off)", c.max_grad_norm),
      field("optim.warmup_steps", "linear warmup steps (-1: warmup_ratio x total)", c.warmup_steps),
      field("optim.warmup_ratio", "warmup share of total steps when warmup_steps = -1", c.warmup_ratio),
      field("optim.head_lr", "peak learning rate of the score head (-1: optim.lr), on the same schedule", c.head_lr),
      field("optim.decay", "after warmup: linear, cosine or constant", c.decay),
      field("optim.epochs", "passes over the train split", c.epochs, {"--epochs"}),
      field("optim.max_steps", "stop after this many optimizer steps (-1: epochs)", c.max_steps, {"--steps"}),
      field("train.out", "run directory (metrics.jsonl, checkpoints/, config.toml)", c.out, {"--out"}),
      field("train.eval_every", "optimizer steps between validation runs (0: each epoch's end)", c.eval_every),
      field("train.checkpoint_every", "optimizer steps between checkpoints (0: each epoch's end)", c.checkpoint_every),
      field("train.keep_checkpoints", "checkpoints kept (oldest removed)", c.keep_checkpoints),
      field("train.log_every", "optimizer steps between progress lines", c.log_every),
      field("train.tensorboard",
            "also write metrics.jsonl's scalars, token lengths and predicted probabilities as TensorBoard event "
            "files in <out>/tensorboard",
            c.tensorboard),
      field("train.seed", "seed of model init and LoRA dropout", c.seed, {"--seed"}),
      field("train.nonfinite", "on a NaN/Inf loss or gradient: skip (all ranks) or stop", c.nonfinite),
      field("train.backend", "gradient all-reduce: auto, nccl, mpi or none", c.backend, {"--backend"}),
      field("train.device", "auto (cuda:<local rank> if CUDA, else cpu), cpu or cuda", c.device, {"--device"}),
      field("train.threads", "intra-op CPU threads per rank (0: cores / ranks per node)", c.threads),
      field("train.init_from",
            "start the adapters and head from a run (its newest checkpoint), a checkpoint file or a PEFT adapter "
            "directory; the optimizer and schedule start fresh",
            c.init_from, {"--init-from"}),
      field("train.resume", "run directory or checkpoint file to continue from exactly", c.resume, {"--resume"}),
      field("train.resume_fallback", "when the newest checkpoint fails its checksums, resume from the newest good one",
            c.resume_fallback, {"--resume-fallback"}),
      field("train.stop_after", "end this invocation after this optimizer step, with a checkpoint (-1: run to the end)",
            c.stop_after),
      field("train.swap",
            "A/B swap augmentation: none, both (every pair in both orders in the same step; batch sizes count "
            "both) or random (a seeded half swapped, anew each epoch)",
            c.swap),
      field("train.log_batches",
            "write every step's row ids per rank to <out>/batches.jsonl, the initial adapter to <out>/initial_adapter",
            c.log_batches),
      field("train.objective",
            "classify (cross-entropy on the labels), distill (teacher probabilities: the distill.* settings) or reward "
            "(a Bradley-Terry reward model as TRL's RewardTrainer: model.num_labels = 1, binary labels)",
            c.objective, {"--objective"}),
      field("distill.teachers", "teacher probability files: CSV, JSONL or Parquet with id and one column per class",
            c.distill_teachers, {"--teachers"}),
      field("distill.weights", "weight of each teacher in the mean of their probabilities (empty: equal)",
            c.distill_weights),
      field("distill.columns",
            "probability columns in label order (empty: winner_model_a, winner_model_b[, winner_tie]); one "
            "list-valued JSONL column also works",
            c.distill_columns),
      field("distill.temperature", "T: teacher and student distributions softened by T, the KL term scaled by T^2",
            c.distill_temperature),
      field("distill.hard_weight", "share of the hard-label cross-entropy: hard_weight*CE + (1-hard_weight)*T^2*KL",
            c.distill_hard_weight),
      field("distill.tolerance", "a teacher row's probabilities must sum to 1 within this, or the row is skipped",
            c.distill_tolerance),
      field("reward.center_coefficient",
            "train.objective = reward: weight of mean((r_chosen + r_rejected)^2), which pulls rewards towards 0 "
            "(TRL's center_rewards_coefficient; 0: off)",
            c.reward_center_coefficient),
      field("dist.timeout", "seconds a collective may wait for the other ranks before the job ends (0: forever)",
            c.dist_timeout),
  };
}

void load_toml_file(TrainConfig& c, const std::string& path) {
  toml::table table;
  try {
    table = toml::parse_file(path);
  } catch (const toml::parse_error& e) {
    const auto& where = e.source().begin;
    throw Error(fmt::format("{}:{}:{}: {}", path, where.line, where.column, e.description()));
  }
  apply_table(c, table, path);
}

void load_toml_text(TrainConfig& c, const std::string& text, const std::string& source) {
  toml::table table;
  try {
    table = toml::parse(text, source);
  } catch (const toml::parse_error& e) {
    throw Error(fmt::format("{}: {}", source, e.description()));
  }
  apply_table(c, table, source);
}

std::string to_toml(TrainConfig& c) {
  std::string out, section;
  for (const auto& f : config_fields(c)) {
    const auto dot = f.key.find('.');
    const auto s = f.key.substr(0, dot);
    if (s != section) {
      out += (section.empty() ? "" : "\n") + fmt::format("[{}]\n", s);
      section = s;
    }
    out += fmt::format("{} = {}\n", f.key.substr(dot + 1), f.get());
  }
  return out;
}

void validate(TrainConfig& c) {
  const auto one_of = [](const std::string& key, const std::string& v, std::initializer_list<const char*> allowed) {
    for (const char* a : allowed)
      if (v == a) return;
    std::string list;
    for (const char* a : allowed) list += (list.empty() ? "" : ", ") + std::string(a);
    throw Error(fmt::format("{}: '{}' is not one of {}", key, v, list));
  };
  one_of("model.preset", c.model_preset, {"custom", "gemma2-2b"});
  one_of("model.precision", c.precision, {"auto", "bf16", "fp32"});
  one_of("model.embedding", c.embedding, {"auto", "host", "device"});
  one_of("model.attention", c.attention, {"auto", "eager", "flash"});
  one_of("data.labels", c.labels, {"binary", "3class"});
  one_of("batch.batching", c.batching, {"tokens", "rows"});
  one_of("optim.decay", c.decay, {"linear", "cosine", "constant"});
  one_of("train.nonfinite", c.nonfinite, {"skip", "stop"});
  one_of("train.backend", c.backend, {"auto", "nccl", "mpi", "none"});
  one_of("train.device", c.device, {"auto", "cpu", "cuda"});
  one_of("train.objective", c.objective, {"classify", "distill", "reward"});
  if (c.objective == "reward") {
    check(c.num_labels == 1, "train.objective = reward: model.num_labels must be 1 (one reward per sequence), got {}",
          c.num_labels);
    check(c.labels == "binary", "train.objective = reward: data.labels must be binary (a tie prefers neither answer)");
    check(c.swap == "none", "train.objective = reward: train.swap must be none (each answer is scored on its own)");
    check(c.reward_center_coefficient >= 0, "reward.center_coefficient: must be >= 0, got {}",
          c.reward_center_coefficient);
  } else {
    check(c.num_labels == 2 || c.num_labels == 3, "model.num_labels: must be 2 or 3, got {} (1 is for "
          "train.objective = reward)", c.num_labels);
  }
  check(c.labels != "3class" || c.num_labels == 3, "data.labels = 3class needs model.num_labels = 3");
  check(c.recompute_layers >= -1, "model.recompute_layers: must be -1 (all) or a layer count, got {}",
        c.recompute_layers);
  check(c.lora_rank > 0, "lora.rank: must be positive, got {}", c.lora_rank);
  check(c.lora_dropout >= 0 && c.lora_dropout < 1, "lora.dropout: must be in [0, 1), got {}", c.lora_dropout);
  check(c.max_len > 0, "data.max_len: must be positive, got {}", c.max_len);
  check(c.train_fraction > 0 && c.val_fraction >= 0 && c.train_fraction + c.val_fraction <= 1,
        "data.train_fraction/val_fraction: need 0 < train, 0 <= val, train + val <= 1 (got {} and {})",
        c.train_fraction, c.val_fraction);
  check(c.batch_rows > 0 && c.batch_tokens > 0 && c.accum_steps > 0 && c.eval_rows > 0,
        "batch.rows, batch.tokens, batch.accum_steps and batch.eval_rows must be positive");
  check(c.lr > 0, "optim.lr: must be positive, got {}", c.lr);
  check(c.epochs > 0, "optim.epochs: must be positive, got {}", c.epochs);
  check(c.keep_checkpoints > 0, "train.keep_checkpoints: must be at least 1, got {}", c.keep_checkpoints);
  check(c.log_every > 0, "train.log_every: must be positive, got {}", c.log_every);
  check(c.swap == "none" || c.swap == "both" || c.swap == "random", "train.swap: none, both or random, got '{}'",
        c.swap);
  check(c.swap != "both" || c.batch_rows >= 2,
        "train.swap = both: batch.rows must be at least 2 (each pair gives 2 rows)");
  check(c.head_lr == -1 || c.head_lr >= 0, "optim.head_lr: -1 (optim.lr) or a learning rate >= 0, got {}", c.head_lr);
  check(c.head_init_std >= 0, "model.head_init_std: must be >= 0, got {}", c.head_init_std);
  check(c.dist_timeout >= 0, "dist.timeout: must be 0 (no limit) or positive seconds, got {}", c.dist_timeout);
  if (c.objective == "distill") {
    check(!c.distill_teachers.empty(), "train.objective = distill: distill.teachers names no teacher file");
    check(c.distill_weights.empty() || c.distill_weights.size() == c.distill_teachers.size(),
          "distill.weights: {} weights for {} teachers (one per teacher, or none for equal weights)",
          c.distill_weights.size(), c.distill_teachers.size());
    for (const double w : c.distill_weights) check(w > 0, "distill.weights: must be positive, got {}", w);
    check(c.distill_temperature > 0, "distill.temperature: must be positive, got {}", c.distill_temperature);
    check(c.distill_hard_weight >= 0 && c.distill_hard_weight <= 1, "distill.hard_weight: must be in [0, 1], got {}",
          c.distill_hard_weight);
    check(c.distill_tolerance > 0, "distill.tolerance: must be positive, got {}", c.distill_tolerance);
  }
  check(!c.data_path.empty(), "data.path: no training data given (--data FILE or [data] path in the config)");
}

}  // namespace arena
