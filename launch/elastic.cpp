#include "launch/elastic.h"

#include <torch/torch.h>

#include <algorithm>
#include <vector>

#include "common/error.h"
#include "dist/world.h"
#include "launch/batches.h"
#include "model/cuda/dropout_hash.h"

namespace arena {
namespace {

TrainConfig saved_config(const Checkpoint& ck, const std::string& path) {
  TrainConfig saved;
  load_toml_text(saved, ck.config_toml, path + " (config)");
  return saved;
}

// Rank counts up to 64 that share `rows` evenly, for the error message.
std::string divisors(int64_t rows) {
  std::vector<int64_t> out;
  for (int64_t m = 1; m <= std::min<int64_t>(rows, 64); ++m)
    if (rows % m == 0) out.push_back(m);
  return fmt::format("{}", fmt::join(out, ", "));
}

}  // namespace

ElasticStart elastic_start(const TrainConfig& c, int world) {
  ElasticStart out;
  out.config = c;
  if (c.resume.empty()) return out;
  const auto path = find_checkpoint(c.resume);
  const auto ck = read_checkpoint(path);
  const int64_t saved_world = ck.world_size;
  out.keep_schedule = saved_world != world || ck.state.elastic_resumes > 0;
  if (!out.keep_schedule) return out;  // the same rank count as ever: trainer.cpp's resume checks the schedule
  check(c.max_steps <= 0 || c.max_steps == ck.total_steps,
        "{}: schedule of {} steps, this run asks for train.max_steps {}: a resume on another rank count keeps the "
        "checkpoint's schedule", path, ck.total_steps, c.max_steps);
  out.total_steps = ck.total_steps;
  out.warmup_steps = ck.warmup_steps;
  if (saved_world == world) return out;

  const auto saved = saved_config(ck, path);
  check(c.accum_steps == saved.accum_steps,
        "{}: saved with batch.accum_steps {}, this run asks for {}: an elastic resume keeps accum_steps", path,
        saved.accum_steps, c.accum_steps);
  auto& b = out.config;
  const int64_t round = saved.batch_rows * saved_world;  // rows of one micro-batch over all ranks
  if (c.batch_rows == saved.batch_rows) {
    const int64_t unit = c.swap == "both" ? 2 : 1;  // train.swap = both: a pair and its swapped copy
    if (c.batching == "rows")
      check(round % (world * unit) == 0,
            "{}: saved by {} ranks x batch.rows {} = {} rows per micro-batch round, which {} ranks cannot share "
            "evenly{} (batch.batching = rows): resume on {} ranks",
            path, saved_world, saved.batch_rows, round, world, unit == 2 ? " in pairs (train.swap = both)" : "",
            divisors(round / unit));
    b.batch_rows = std::max<int64_t>(1, (round + world - 1) / world);  // tokens batching: a cap, rounded up
  } else {
    check(c.batch_rows * world == round,
          "{}: batch.rows {} on {} ranks trains {} rows per micro-batch round, the checkpoint's {} ranks x {} "
          "trained {}: leave batch.rows as saved (the resume scales it to {} x {} / {})",
          path, c.batch_rows, world, c.batch_rows * world, saved_world, saved.batch_rows, round, saved.batch_rows,
          saved_world, world);
  }
  if (c.batch_tokens == saved.batch_tokens)
    b.batch_tokens = std::max<int64_t>(1, saved.batch_tokens * saved_world / world);
  if (arena::world().is_root())
    fmt::print(stderr, "elastic resume: {} saved by {} ranks, resumed on {}: batch.rows {} -> {}, batch.tokens {} -> "
               "{}; schedule kept ({} steps, {} warmup); dropout streams reseeded from (train.seed, step, rank)\n",
               path, saved_world, world, saved.batch_rows, b.batch_rows, saved.batch_tokens, b.batch_tokens,
               out.total_steps, out.warmup_steps);
  return out;
}

TrainState continue_elastic(const Checkpoint& ck, const TokenizedData& train, int world, bool verbose) {
  const auto saved = saved_config(ck, "checkpoint");
  const int saved_world = static_cast<int>(ck.world_size);
  TrainState st = ck.state;
  ++st.elastic_resumes;
  std::vector<char> done(static_cast<size_t>(train.size()), 0);
  for (const int64_t i : st.consumed) done[static_cast<size_t>(i)] = 1;
  size_t planned = SIZE_MAX;
  for (int r = 0; r < saved_world; ++r) {
    const auto plan = plan_epoch(train, saved, r, saved_world, st.epoch, st.consumed);
    check(static_cast<size_t>(st.cursor) <= plan.size(),
          "checkpoint at micro-batch {} of epoch {}, whose plan on {} ranks has {}: the data or batch settings changed",
          st.cursor, st.epoch, saved_world, plan.size());
    planned = std::min(planned, plan.size());
    for (int64_t k = 0; k < st.cursor; ++k)
      for (const int64_t i : plan[static_cast<size_t>(k)]) done[static_cast<size_t>(i)] = 1;
  }
  const auto steps = static_cast<int64_t>(planned) / saved.accum_steps;
  st.consumed.clear();
  if (st.cursor + saved.accum_steps > steps * saved.accum_steps) {  // the saving ranks had finished the epoch
    ++st.epoch;
    st.cursor = 0;
    return st;
  }
  for (size_t i = 0; i < done.size(); ++i)
    if (done[i]) st.consumed.push_back(static_cast<int64_t>(i));
  st.cursor = 0;
  if (verbose)
    fmt::print(stderr, "elastic resume: {} of the {} train rows of epoch {} trained on {} ranks; the rest continue "
               "on {} ranks\n", st.consumed.size(), train.size(), st.epoch, saved_world, world);
  return st;
}

void reseed_dropout(int64_t seed, int64_t step, int rank) {
  const uint64_t mixed = splitmix64(splitmix64(splitmix64(static_cast<uint64_t>(seed)) ^ static_cast<uint64_t>(step)) ^
                                    static_cast<uint64_t>(rank));
  torch::manual_seed(mixed);
}

}  // namespace arena
