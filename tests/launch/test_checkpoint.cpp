// HDF5 checkpoints: exact round trip, atomic replacement, newest-first discovery, pruning, errors
// that name the file and the object, checksums that catch flipped bytes, and resume's fallback.
#include <gtest/gtest.h>
#include <torch/torch.h>

#include <hdf5.h>

#include <filesystem>
#include <fstream>
#include <vector>

#include "launch/checkpoint.h"
#include "test_support.h"

namespace arena {
namespace {

Checkpoint sample(int64_t step) {
  torch::manual_seed(step);
  Checkpoint c;
  c.state = {step, 1, 7, 100, 5000, 1};
  c.config_toml = "[optim]\nlr = 0.001\n";
  c.base_fingerprint = 12345.678;
  c.world_size = 2;
  c.trainable = {{"base_model.model.score.weight", torch::randn({2, 8})},
                 {"base_model.model.model.layers.1.mlp.up_proj.lora_A.weight", torch::randn({4, 8})}};
  c.exp_avg = {{"base_model.model.score.weight", torch::randn({2, 8})},
               {"base_model.model.model.layers.1.mlp.up_proj.lora_A.weight", torch::randn({4, 8})}};
  for (int layer = 0; layer < 12; ++layer) {  // more links per group than HDF5 keeps compact by default
    const auto name = "base_model.model.model.layers." + std::to_string(layer) + ".self_attn.q_proj.lora_B.weight";
    c.trainable.emplace_back(name, torch::randn({3, 2}));
    c.exp_avg.emplace_back(name, torch::randn({3, 2}));
  }
  c.exp_avg_sq = c.exp_avg;
  c.optimizer_steps = step;
  c.total_steps = 90;
  c.warmup_steps = 9;
  c.peak_lr = 1e-3;
  c.decay = "linear";
  c.rng = torch::randint(0, 255, {2, 5056}, torch::kUInt8);
  return c;
}

TEST(Checkpoint, RoundTripsExactly) {
  testing::TempDir dir;
  const auto c = sample(12);
  const auto path = checkpoint_path(dir.path().string(), 12);
  write_checkpoint(path, c);
  EXPECT_FALSE(std::filesystem::exists(path + ".tmp"));
  const auto r = read_checkpoint(path);
  EXPECT_EQ(r.state.step, 12);
  EXPECT_EQ(r.state.cursor, 7);
  EXPECT_EQ(r.state.tokens, 5000);
  EXPECT_EQ(r.config_toml, c.config_toml);
  EXPECT_DOUBLE_EQ(r.base_fingerprint, c.base_fingerprint);
  EXPECT_EQ(r.decay, "linear");
  ASSERT_EQ(r.trainable.size(), c.trainable.size());
  for (const auto& [name, t] : c.trainable) {
    bool found = false;
    for (const auto& [n2, t2] : r.trainable)
      if (n2 == name) found = torch::equal(t, t2);
    EXPECT_TRUE(found) << name;
  }
  EXPECT_TRUE(torch::equal(r.rng, c.rng));
}

// Elastic resume's state (launch/elastic.h): the resume count and the rows trained in the epoch
// before its current plan; a checkpoint without them (no /epoch_consumed dataset) reads as none.
TEST(Checkpoint, ElasticStateRoundTrips) {
  testing::TempDir dir;
  auto c = sample(12);
  c.state.elastic_resumes = 2;
  c.state.consumed = {0, 3, 4, 17, 99};
  const auto path = checkpoint_path(dir.path().string(), 12);
  write_checkpoint(path, c);
  const auto r = read_checkpoint(path);
  EXPECT_EQ(r.state.elastic_resumes, 2);
  EXPECT_EQ(r.state.consumed, c.state.consumed);
  const auto plain = checkpoint_path(dir.path().string(), 13);
  write_checkpoint(plain, sample(13));
  const auto p = read_checkpoint(plain);
  EXPECT_EQ(p.state.elastic_resumes, 0);
  EXPECT_TRUE(p.state.consumed.empty());
}

TEST(Checkpoint, NewestFoundOldPrunedPartialWritesIgnored) {
  testing::TempDir dir;
  const auto run = dir.path().string();
  for (int64_t s : {3, 10, 7}) write_checkpoint(checkpoint_path(run, s), sample(s));
  // A write killed half-way leaves only a .tmp file: never picked.
  std::ofstream(checkpoint_path(run, 11) + ".tmp") << "partial";
  EXPECT_EQ(find_checkpoint(run), checkpoint_path(run, 10));
  prune_checkpoints(run, 2);
  EXPECT_FALSE(std::filesystem::exists(checkpoint_path(run, 3)));
  EXPECT_TRUE(std::filesystem::exists(checkpoint_path(run, 7)));
  EXPECT_THROW(find_checkpoint(run + "/missing"), std::exception);
}

TEST(Checkpoint, BadFilesAreNamed) {
  testing::TempDir dir;
  const auto junk = (dir.path() / "step-00000001.h5").string();
  std::ofstream(junk) << "not hdf5";
  try {
    read_checkpoint(junk);
    FAIL();
  } catch (const std::exception& e) {
    EXPECT_NE(std::string(e.what()).find(junk), std::string::npos) << e.what();
  }
}

void flip_byte(const std::string& path, uint64_t offset) {
  std::fstream f(path, std::ios::in | std::ios::out | std::ios::binary);
  f.seekg(static_cast<std::streamoff>(offset));
  char b = 0;
  f.read(&b, 1);
  b = static_cast<char>(b ^ 0x10);
  f.seekp(static_cast<std::streamoff>(offset));
  f.write(&b, 1);
}

// The file offset of a chunked dataset's (only) chunk.
uint64_t chunk_address(const std::string& path, const std::string& dataset) {
  const hid_t file = H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT);
  const hid_t set = H5Dopen2(file, dataset.c_str(), H5P_DEFAULT);
  haddr_t addr = 0;
  hsize_t size = 0;
  unsigned mask = 0;
  const hid_t space = H5Dget_space(set);
  const herr_t rc = H5Dget_chunk_info(set, space, 0, nullptr, &mask, &addr, &size);
  H5Sclose(space);
  H5Dclose(set);
  H5Fclose(file);
  EXPECT_GE(rc, 0) << dataset << " is not chunked";
  return addr;
}

bool same(const Checkpoint& a, const Checkpoint& b) {
  auto tensors_equal = [](const auto& x, const auto& y) {
    if (x.size() != y.size()) return false;
    for (const auto& [name, t] : x) {
      bool found = false;
      for (const auto& [n2, t2] : y) found = found || (n2 == name && torch::equal(t, t2));
      if (!found) return false;
    }
    return true;
  };
  return a.state.step == b.state.step && a.state.epoch == b.state.epoch && a.state.cursor == b.state.cursor &&
         a.state.samples == b.state.samples && a.state.tokens == b.state.tokens && a.config_toml == b.config_toml &&
         a.base_fingerprint == b.base_fingerprint && a.world_size == b.world_size &&
         a.optimizer_steps == b.optimizer_steps && a.total_steps == b.total_steps && a.decay == b.decay &&
         tensors_equal(a.trainable, b.trainable) && tensors_equal(a.exp_avg, b.exp_avg) &&
         tensors_equal(a.exp_avg_sq, b.exp_avg_sq) && torch::equal(a.rng, b.rng);
}

TEST(Checkpoint, FlippedDataByteIsAnErrorNamingTheDataset) {
  testing::TempDir dir;
  const auto path = checkpoint_path(dir.path().string(), 5);
  write_checkpoint(path, sample(5));
  const std::string dataset = "optimizer/exp_avg/base_model.model.score.weight";
  flip_byte(path, chunk_address(path, dataset) + 3);
  try {
    read_checkpoint(path);
    FAIL() << "a flipped byte in " << dataset << " was read back";
  } catch (const std::exception& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find(path), std::string::npos) << what;
    EXPECT_NE(what.find(dataset), std::string::npos) << what;
    EXPECT_NE(what.find("Fletcher32"), std::string::npos) << what;
  }
}

// A byte flipped anywhere in the file either fails the read or changes nothing that is read back
// (padding, free space): never a checkpoint that loads with different contents.
TEST(Checkpoint, NoFlippedByteLoadsSilently) {
  testing::TempDir dir;
  const auto original = checkpoint_path(dir.path().string(), 5);
  const auto c = sample(5);
  write_checkpoint(original, c);
  const auto size = std::filesystem::file_size(original);
  const auto copy = (dir.path() / "flipped.h5").string();
  int caught = 0, harmless = 0;
  const char* stride_env = std::getenv("ARENA_FLIP_STRIDE");  // 1: every byte (about 10 s)
  const uint64_t stride = stride_env ? std::max(1, std::atoi(stride_env)) : 61;
  for (uint64_t offset = 0; offset < size; offset += stride) {
    std::filesystem::copy_file(original, copy, std::filesystem::copy_options::overwrite_existing);
    flip_byte(copy, offset);
    try {
      EXPECT_TRUE(same(read_checkpoint(copy), c)) << "byte " << offset << " of " << size << " flipped: loaded changed";
      ++harmless;
    } catch (const std::exception&) {
      ++caught;
    }
  }
  EXPECT_GT(caught, 0);
  std::printf("%d of %d flipped bytes failed the read, %d landed in unused bytes\n", caught, caught + harmless,
              harmless);
}

TEST(Checkpoint, ResumeNamesTheCorruptOneAndFallsBackOnRequest) {
  testing::TempDir dir;
  const auto run = dir.path().string();
  for (int64_t s : {3, 7}) write_checkpoint(checkpoint_path(run, s), sample(s));
  EXPECT_EQ(resume_checkpoint(run, false), checkpoint_path(run, 7));
  flip_byte(checkpoint_path(run, 7), chunk_address(checkpoint_path(run, 7), "rng_states") + 100);
  try {
    resume_checkpoint(run, false);
    FAIL() << "resumed from a corrupt checkpoint";
  } catch (const std::exception& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find(checkpoint_path(run, 7) + " is corrupt"), std::string::npos) << what;
    EXPECT_NE(what.find("rng_states"), std::string::npos) << what;
    EXPECT_NE(what.find("newest good one is " + checkpoint_path(run, 3)), std::string::npos) << what;
    EXPECT_NE(what.find("--resume-fallback"), std::string::npos) << what;
  }
  EXPECT_EQ(resume_checkpoint(run, true), checkpoint_path(run, 3));
  flip_byte(checkpoint_path(run, 3), chunk_address(checkpoint_path(run, 3), "rng_states") + 100);
  EXPECT_THROW(resume_checkpoint(run, true), std::exception);
}

}  // namespace
}  // namespace arena
