#include "launch/checkpoint.h"

#include <ATen/CPUGeneratorImpl.h>
#include <ATen/Context.h>
#include <torch/torch.h>

#include <algorithm>
#include <filesystem>

#include "common/error.h"
#include "common/h5.h"
#include "dist/world.h"

namespace arena {
namespace fs = std::filesystem;
namespace {

constexpr int64_t kVersion = 1;
constexpr const char* kFormat = "arena-checkpoint";

// Links and attributes stay in the group's object header, which the file format checksums: past 8
// of either HDF5 would move them to a fractal heap whose blocks carry no checksum (a flipped byte
// there renames a tensor silently).
void keep_compact(hid_t group_create_props, const std::string& path) {
  h5::check(H5Pset_link_phase_change(group_create_props, 65535, 0), "keep links compact", path);
  h5::check(H5Pset_attr_phase_change(group_create_props, 65535, 0), "keep attributes compact", path);
}

void make_group(hid_t file, const std::string& name, const std::string& path) {
  h5::Handle props{h5::check(H5Pcreate(H5P_GROUP_CREATE), "create group properties", path), H5Pclose};
  keep_compact(props.id(), path);
  h5::Handle g{h5::check(H5Gcreate2(file, name.c_str(), H5P_DEFAULT, props.id(), H5P_DEFAULT), "create group " + name,
                         path),
               H5Gclose};
}

void write_tensors(hid_t file, const std::string& group, const std::vector<std::pair<std::string, torch::Tensor>>& ts,
                   const std::string& path) {
  make_group(file, group, path);
  for (const auto& [name, t] : ts) {
    const auto c = t.detach().to(torch::kCPU, torch::kFloat32).contiguous();
    std::vector<hsize_t> dims(c.sizes().begin(), c.sizes().end());
    h5::write(file, group + "/" + name, c.data_ptr<float>(), dims, path, /*checksum=*/true);
  }
}

// In name order; callers match tensors by name.
std::vector<std::pair<std::string, torch::Tensor>> read_tensors(hid_t file, const std::string& group,
                                                                const std::string& path) {
  if (!h5::exists(file, group)) throw Error(fmt::format("{}: missing group '{}'", path, group));
  h5::Handle g{h5::check(H5Gopen2(file, group.c_str(), H5P_DEFAULT), "open group " + group, path), H5Gclose};
  H5G_info_t info;
  h5::check(H5Gget_info(g.id(), &info), "list group " + group, path);
  std::vector<std::pair<std::string, torch::Tensor>> out;
  for (hsize_t i = 0; i < info.nlinks; ++i) {
    const ssize_t len = H5Lget_name_by_idx(g.id(), ".", H5_INDEX_NAME, H5_ITER_INC, i, nullptr, 0, H5P_DEFAULT);
    std::string name(static_cast<size_t>(h5::check(len, "list group " + group, path)), '\0');
    H5Lget_name_by_idx(g.id(), ".", H5_INDEX_NAME, H5_ITER_INC, i, name.data(), name.size() + 1, H5P_DEFAULT);
    const auto dims = h5::shape(file, group + "/" + name, path);
    auto t = torch::empty(std::vector<int64_t>(dims.begin(), dims.end()), torch::kFloat32);
    h5::read(file, group + "/" + name, t.data_ptr<float>(), path);
    out.emplace_back(name, t);
  }
  return out;
}

}  // namespace

std::string checkpoint_path(const std::string& run_dir, int64_t step) {
  return (fs::path(run_dir) / "checkpoints" / fmt::format("step-{:08d}.h5", step)).string();
}

void write_checkpoint(const std::string& path, const Checkpoint& c) {
  h5::quiet();
  fs::create_directories(fs::path(path).parent_path());
  const std::string tmp = path + ".tmp";
  {
    // The 1.10 file format checksums every piece of metadata it writes here (superblock, object
    // headers with their attributes, links and single-chunk dataset layouts; the 1.8 format would
    // index chunks with unchecksummed v1 B-trees), as Fletcher32 does each dataset's data.
    h5::Handle access{h5::check(H5Pcreate(H5P_FILE_ACCESS), "create file properties", tmp), H5Pclose};
    h5::check(H5Pset_libver_bounds(access.id(), H5F_LIBVER_V110, H5F_LIBVER_LATEST), "set format version", tmp);
    h5::Handle create{h5::check(H5Pcreate(H5P_FILE_CREATE), "create file properties", tmp), H5Pclose};
    keep_compact(create.id(), tmp);  // the root group
    h5::Handle file{h5::check(H5Fcreate(tmp.c_str(), H5F_ACC_TRUNC, create.id(), access.id()), "create", tmp),
                    H5Fclose};
    const hid_t f = file.id();
    h5::write_string_attr(f, "format", kFormat, tmp);
    h5::write_attr<int64_t>(f, "version", kVersion, tmp);
    h5::write_attr<int64_t>(f, "step", c.state.step, tmp);
    h5::write_attr<int64_t>(f, "epoch", c.state.epoch, tmp);
    h5::write_attr<int64_t>(f, "cursor", c.state.cursor, tmp);
    h5::write_attr<int64_t>(f, "samples_seen", c.state.samples, tmp);
    h5::write_attr<int64_t>(f, "tokens_seen", c.state.tokens, tmp);
    h5::write_attr<int64_t>(f, "skipped_steps", c.state.skipped_steps, tmp);
    h5::write_attr<int64_t>(f, "world_size", c.world_size, tmp);
    h5::write_attr<int64_t>(f, "elastic_resumes", c.state.elastic_resumes, tmp);
    if (!c.state.consumed.empty())
      h5::write(f, "epoch_consumed", c.state.consumed.data(), {static_cast<hsize_t>(c.state.consumed.size())}, tmp,
                /*checksum=*/true);
    h5::write_attr<double>(f, "base_fingerprint", c.base_fingerprint, tmp);
    h5::write_string_attr(f, "config", c.config_toml, tmp);
    write_tensors(f, "trainable", c.trainable, tmp);
    make_group(f, "optimizer", tmp);
    {
      h5::Handle g{h5::check(H5Gopen2(f, "optimizer", H5P_DEFAULT), "open group optimizer", tmp), H5Gclose};
      h5::write_attr<int64_t>(g.id(), "steps", c.optimizer_steps, tmp);
    }
    write_tensors(f, "optimizer/exp_avg", c.exp_avg, tmp);
    write_tensors(f, "optimizer/exp_avg_sq", c.exp_avg_sq, tmp);
    make_group(f, "scheduler", tmp);
    {
      h5::Handle g{h5::check(H5Gopen2(f, "scheduler", H5P_DEFAULT), "open group scheduler", tmp), H5Gclose};
      h5::write_attr<int64_t>(g.id(), "step", c.state.step, tmp);
      h5::write_attr<int64_t>(g.id(), "total_steps", c.total_steps, tmp);
      h5::write_attr<int64_t>(g.id(), "warmup_steps", c.warmup_steps, tmp);
      h5::write_attr<double>(g.id(), "peak_lr", c.peak_lr, tmp);
      h5::write_string_attr(g.id(), "decay", c.decay, tmp);
    }
    const auto rng = c.rng.contiguous();
    h5::write(f, "rng_states", rng.data_ptr<uint8_t>(),
              {static_cast<hsize_t>(rng.size(0)), static_cast<hsize_t>(rng.size(1))}, tmp, /*checksum=*/true);
    h5::check(H5Fflush(f, H5F_SCOPE_GLOBAL), "flush", tmp);
  }
  fs::rename(tmp, path);
}

Checkpoint read_checkpoint(const std::string& path) {
  h5::quiet();
  check(fs::is_regular_file(path), "{}: no such checkpoint file", path);
  h5::Handle file{h5::check(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), "open (not an HDF5 file?)", path),
                  H5Fclose};
  const hid_t f = file.id();
  check(h5::read_string_attr(f, "format", path) == kFormat, "{}: not an arena checkpoint", path);
  const auto version = h5::read_attr<int64_t>(f, "version", path);
  check(version == kVersion, "{}: checkpoint format version {} (this build reads {})", path, version, kVersion);
  Checkpoint c;
  c.state.step = h5::read_attr<int64_t>(f, "step", path);
  c.state.epoch = h5::read_attr<int64_t>(f, "epoch", path);
  c.state.cursor = h5::read_attr<int64_t>(f, "cursor", path);
  c.state.samples = h5::read_attr<int64_t>(f, "samples_seen", path);
  c.state.tokens = h5::read_attr<int64_t>(f, "tokens_seen", path);
  c.state.skipped_steps = h5::read_attr<int64_t>(f, "skipped_steps", path);
  c.world_size = h5::read_attr<int64_t>(f, "world_size", path);
  // Both absent from checkpoints written before elastic resume, and the dataset when it is empty.
  if (H5Aexists(f, "elastic_resumes") > 0) c.state.elastic_resumes = h5::read_attr<int64_t>(f, "elastic_resumes", path);
  if (h5::exists(f, "epoch_consumed")) c.state.consumed = h5::read_vector<int64_t>(f, "epoch_consumed", path);
  c.base_fingerprint = h5::read_attr<double>(f, "base_fingerprint", path);
  c.config_toml = h5::read_string_attr(f, "config", path);
  c.trainable = read_tensors(f, "trainable", path);
  {
    h5::Handle g{h5::check(H5Gopen2(f, "optimizer", H5P_DEFAULT), "open group optimizer", path), H5Gclose};
    c.optimizer_steps = h5::read_attr<int64_t>(g.id(), "steps", path);
  }
  c.exp_avg = read_tensors(f, "optimizer/exp_avg", path);
  c.exp_avg_sq = read_tensors(f, "optimizer/exp_avg_sq", path);
  {
    h5::Handle g{h5::check(H5Gopen2(f, "scheduler", H5P_DEFAULT), "open group scheduler", path), H5Gclose};
    c.total_steps = h5::read_attr<int64_t>(g.id(), "total_steps", path);
    c.warmup_steps = h5::read_attr<int64_t>(g.id(), "warmup_steps", path);
    c.peak_lr = h5::read_attr<double>(g.id(), "peak_lr", path);
    c.decay = h5::read_string_attr(g.id(), "decay", path);
  }
  const auto dims = h5::shape(f, "rng_states", path);
  check(dims.size() == 2, "{}: dataset 'rng_states' must be [world_size, bytes]", path);
  c.rng = torch::empty({static_cast<int64_t>(dims[0]), static_cast<int64_t>(dims[1])}, torch::kUInt8);
  h5::read(f, "rng_states", c.rng.data_ptr<uint8_t>(), path);
  return c;
}

namespace {

// The checkpoint files (step-*.h5) of a checkpoints folder, oldest first (the names sort by step).
std::vector<fs::path> checkpoint_files(const fs::path& dir) {
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(dir)) {
    const auto name = e.path().filename().string();
    if (e.is_regular_file() && name.rfind("step-", 0) == 0 && e.path().extension() == ".h5") files.push_back(e.path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

}  // namespace

std::string find_checkpoint(const std::string& run_dir_or_file) {
  if (fs::is_regular_file(run_dir_or_file)) return run_dir_or_file;
  check(fs::is_directory(run_dir_or_file), "{}: no such run directory or checkpoint file", run_dir_or_file);
  fs::path dir = run_dir_or_file;
  if (fs::is_directory(dir / "checkpoints")) dir /= "checkpoints";
  const auto files = checkpoint_files(dir);
  check(!files.empty(), "{}: no checkpoint (step-*.h5) found", run_dir_or_file);
  return files.back().string();
}

std::string resume_checkpoint(const std::string& run_dir_or_file, bool fallback) {
  const auto newest = find_checkpoint(run_dir_or_file);
  if (fs::is_regular_file(run_dir_or_file)) return newest;
  std::string why;
  try {
    read_checkpoint(newest);
    return newest;
  } catch (const Error& e) {
    why = e.what();
  }
  auto older = checkpoint_files(fs::path(newest).parent_path());
  older.pop_back();  // the newest
  for (auto candidate = older.rbegin(); candidate != older.rend(); ++candidate) {
    try {
      read_checkpoint(candidate->string());
    } catch (const Error&) {
      continue;
    }
    check(fallback, "newest checkpoint {} is corrupt ({}); the newest good one is {}: resume from it with "
          "--resume-fallback (or --resume {})", newest, why, candidate->string(), candidate->string());
    if (world().is_root())
      fmt::print(stderr, "warning: newest checkpoint {} is corrupt ({}); resuming from {} (--resume-fallback)\n",
                 newest, why, candidate->string());
    return candidate->string();
  }
  throw Error(fmt::format("newest checkpoint {} is corrupt ({}) and no older checkpoint of {} reads back whole", newest,
                          why, run_dir_or_file));
}

void prune_checkpoints(const std::string& run_dir, int64_t keep) {
  const fs::path dir = fs::path(run_dir) / "checkpoints";
  if (!fs::is_directory(dir)) return;
  const auto files = checkpoint_files(dir);
  for (size_t i = 0; i + static_cast<size_t>(keep) < files.size(); ++i) fs::remove(files[i]);
}

torch::Tensor capture_rng(bool cuda) {
  auto cpu = at::detail::getDefaultCPUGenerator().get_state();
  if (!cuda) return cpu;
  auto gpu = at::globalContext().defaultGenerator(c10::DeviceType::CUDA).get_state();
  return torch::cat({cpu, gpu});
}

void restore_rng(const torch::Tensor& bytes, bool cuda) {
  auto cpu_gen = at::detail::getDefaultCPUGenerator();
  const int64_t cpu_bytes = cpu_gen.get_state().numel();
  check(bytes.numel() >= cpu_bytes, "checkpoint RNG state has {} bytes, expected at least {}", bytes.numel(), cpu_bytes);
  cpu_gen.set_state(bytes.narrow(0, 0, cpu_bytes).clone());
  if (cuda) {
    auto gpu_gen = at::globalContext().defaultGenerator(c10::DeviceType::CUDA);
    gpu_gen.set_state(bytes.narrow(0, cpu_bytes, bytes.numel() - cpu_bytes).clone());
  }
}

}  // namespace arena
