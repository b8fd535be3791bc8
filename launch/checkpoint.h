// Training checkpoints: one HDF5 file per checkpoint, <run>/checkpoints/step-00000012.h5, written
// to a temporary name and renamed, so a job killed mid-write keeps its previous checkpoint.
// The layout is documented in docs/checkpoint-format.md and readable with h5dump / h5py.
#pragma once

#include <torch/types.h>

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

namespace arena {

// Where training stands: optimizer steps done and the next micro-batch (epoch, cursor).
struct TrainState {
  int64_t step = 0;
  int64_t epoch = 0;
  int64_t cursor = 0;  // micro-batch index inside the epoch's plan
  int64_t samples = 0, tokens = 0, skipped_steps = 0;
  // Elastic resume (launch/elastic.h): resumes on another rank count so far (then the schedule is the
  // checkpoint's), and the rows of `epoch` trained before its current plan, which covers the rest.
  int64_t elastic_resumes = 0;
  std::vector<int64_t> consumed;
};

struct Checkpoint {
  TrainState state;
  std::string config_toml;  // the resolved config of the run
  double base_fingerprint = 0;
  int64_t world_size = 1;
  std::vector<std::pair<std::string, torch::Tensor>> trainable;  // PEFT names, fp32 (adapters + head)
  std::vector<std::pair<std::string, torch::Tensor>> exp_avg, exp_avg_sq;
  int64_t optimizer_steps = 0;
  int64_t total_steps = 0, warmup_steps = 0;
  double peak_lr = 0;
  std::string decay;
  torch::Tensor rng;  // uint8 [world_size, bytes]: each rank's generator states
};

std::string checkpoint_path(const std::string& run_dir, int64_t step);
// Atomic: writes path + ".tmp" then renames it over `path`.
void write_checkpoint(const std::string& path, const Checkpoint& c);
// Throws naming the file and the dataset/attribute that is missing or malformed.
Checkpoint read_checkpoint(const std::string& path);
// A checkpoint file as given, or the newest one of a run directory (its checkpoints/ folder).
std::string find_checkpoint(const std::string& run_dir_or_file);
// The checkpoint `--resume` continues from: `run_dir_or_file` itself when it is a file; for a run
// directory its newest checkpoint if that one reads back whole (every checksum verified). When it
// does not: with `fallback`, the newest one that does (a warning on stderr names the bad one);
// without, an error naming the bad file, why it failed, and the newest good one.
std::string resume_checkpoint(const std::string& run_dir_or_file, bool fallback);
// Deletes all but the newest `keep` checkpoints of a run directory.
void prune_checkpoints(const std::string& run_dir, int64_t keep);

// This process's random generators (CPU, and the current CUDA device's when `cuda`) as bytes.
torch::Tensor capture_rng(bool cuda);
void restore_rng(const torch::Tensor& bytes, bool cuda);

}  // namespace arena
