#include "launch/trainer.h"

#include <torch/torch.h>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <thread>

#include "common/error.h"
#include "data/baselines.h"
#include "dist/communicator.h"
#include "dist/grad_bucket.h"
#include "dist/watchdog.h"
#include "dist/world.h"
#include "launch/baselines_report.h"
#include "launch/batches.h"
#include "launch/checkpoint.h"
#include "launch/elastic.h"
#include "launch/evaluate.h"
#include "launch/heap_policy.h"
#include "launch/metrics_log.h"
#include "launch/model_setup.h"
#include "launch/objective.h"
#include "launch/peak_memory.h"
#include "launch/progress.h"
#include "launch/run_data.h"
#include "launch/run_record.h"
#include "launch/stop_signal.h"
#include "model/peft/peft_adapter.h"
#include "model/peft/qlora.h"
#include "optim/adamw.h"
#include "optim/lr_schedule.h"

namespace arena {
namespace fs = std::filesystem;
namespace {

constexpr int64_t kMaxSkipsInARow = 20;  // train.nonfinite = skip gives up after this many

// What one optimizer step did on one rank; summed over ranks in one host all-reduce, which also
// makes every rank agree on skipping (non-finite values) and stopping (a signal on any rank).
struct StepTotals {
  double rows = 0, loss_sum = 0, correct = 0, tokens = 0, padded_tokens = 0, nonfinite = 0, stop = 0;
};
static_assert(sizeof(StepTotals) == 7 * sizeof(double), "StepTotals is reduced as one array of doubles");

// Test hook: ARENA_FAULT=<rank>:<step>:<throw|nan> fails that rank at that optimizer step.
struct Fault {
  int rank = -1;
  int64_t step = -1;
  std::string kind;
};

Fault fault_from_env() {
  Fault f;
  if (const char* v = std::getenv("ARENA_FAULT"); v && *v) {
    char kind[16] = {0};
    long long step = -1;
    check(std::sscanf(v, "%d:%lld:%15s", &f.rank, &step, kind) == 3, "ARENA_FAULT='{}': expected rank:step:throw|nan",
          v);
    f.step = step;
    f.kind = kind;
  }
  return f;
}

std::string token_cache_path(const TrainConfig& c) {
  if (c.token_cache == "none") return "";
  if (c.token_cache == "auto") return (fs::path(c.out) / "tokens.h5").string();
  return c.token_cache;
}

// Per-epoch micro-batch plans, computed on demand (identical on every rank).
class EpochPlans {
 public:
  EpochPlans(const TokenizedData& train, const TrainConfig& c, int rank, int world)
      : train_(train), c_(c), rank_(rank), world_(world) {}
  const BatchList& at(int64_t epoch) {
    auto it = plans_.find(epoch);
    if (it == plans_.end())
      it = plans_.emplace(epoch, plan_epoch(train_, c_, rank_, world_, epoch, epoch == skip_epoch_ ? skip_ : kNone))
               .first;
    return it->second;
  }
  int64_t steps(int64_t epoch) { return static_cast<int64_t>(at(epoch).size()) / c_.accum_steps; }
  // After an elastic resume `epoch` plans only its rows not in `skip` (launch/elastic.h).
  void skip_in(int64_t epoch, const std::vector<int64_t>& skip) {
    skip_epoch_ = epoch;
    skip_ = skip;
    plans_.erase(epoch);
  }

 private:
  const TokenizedData& train_;
  const TrainConfig& c_;
  int rank_, world_;
  std::map<int64_t, BatchList> plans_;
  int64_t skip_epoch_ = -1;
  std::vector<int64_t> skip_;
  inline static const std::vector<int64_t> kNone;
};

// Flat optimizer moments split back into the trainable tensors' names and shapes.
std::vector<std::pair<std::string, torch::Tensor>> per_tensor(const GradBucket& bucket, const torch::Tensor& flat) {
  std::vector<std::pair<std::string, torch::Tensor>> out;
  int64_t offset = 0;
  for (const auto& [name, t] : bucket.named()) {
    out.emplace_back(name, flat.narrow(0, offset, t.numel()).view(t.sizes()));
    offset += t.numel();
  }
  return out;
}

torch::Tensor flat_from(const GradBucket& bucket, const std::vector<std::pair<std::string, torch::Tensor>>& stored,
                        const std::string& what, const std::string& path) {
  std::map<std::string, torch::Tensor> by_name(stored.begin(), stored.end());
  std::vector<torch::Tensor> parts;
  for (const auto& [name, t] : bucket.named()) {
    const auto it = by_name.find(name);
    check(it != by_name.end(), "{}: {} lacks tensor '{}'", path, what, name);
    check(it->second.sizes() == t.sizes(), "{}: {} tensor '{}' has shape [{}], the model expects [{}]", path, what, name,
          fmt::join(it->second.sizes(), ","), fmt::join(t.sizes(), ","));
    parts.push_back(it->second.reshape({-1}));
  }
  check(by_name.size() == bucket.named().size(), "{}: {} holds {} tensors, the model trains {}", path, what,
        by_name.size(), bucket.named().size());
  return torch::cat(parts);
}

void save(const std::string& out, const TrainConfig& c, const TrainState& st, GradBucket& bucket, AdamW& opt,
          const LrSchedule& sched, double fingerprint, bool cuda, MetricsLog& log) {
  const auto& w = world();
  const auto rng = capture_rng(cuda).contiguous();
  auto all = torch::empty({w.size, rng.numel()}, torch::kUInt8);
  host_gather(rng.data_ptr(), static_cast<size_t>(rng.numel()), all.data_ptr(), 0);
  if (!w.is_root()) return;
  Checkpoint ck;
  ck.state = st;
  TrainConfig resolved = c;
  resolved.resume.clear();
  resolved.resume_fallback = false;
  resolved.stop_after = -1;
  ck.config_toml = to_toml(resolved);
  ck.base_fingerprint = fingerprint;
  ck.world_size = w.size;
  ck.trainable = bucket.named();
  ck.exp_avg = per_tensor(bucket, opt.exp_avg());
  ck.exp_avg_sq = per_tensor(bucket, opt.exp_avg_sq());
  ck.optimizer_steps = opt.steps();
  ck.total_steps = sched.total_steps;
  ck.warmup_steps = sched.warmup_steps;
  ck.peak_lr = sched.peak;
  ck.decay = c.decay;
  ck.rng = all;
  const auto path = checkpoint_path(out, st.step);
  write_checkpoint(path, ck);
  prune_checkpoints(out, c.keep_checkpoints);
  log.write({{"kind", "checkpoint"}, {"step", st.step}, {"path", path}});
  print_above(fmt::format("checkpoint: {}\n", path));
}

// On another rank count than the checkpoint's, the data position and dropout streams continue as
// launch/elastic.h says; on the same count the RNG states are restored and the run is bit-exact.
TrainState resume(const std::string& from, GradBucket& bucket, AdamW& opt, const LrSchedule& sched, double fingerprint,
                  bool cuda, const TokenizedData& train, int64_t seed) {
  const auto& w = world();
  const auto path = find_checkpoint(from);
  const auto ck = read_checkpoint(path);
  check(same_base(ck.base_fingerprint, fingerprint),
        "{}: trained on another base model (fingerprint {} vs {}): check model.path / train.seed", path,
        ck.base_fingerprint, fingerprint);
  check(ck.total_steps == sched.total_steps && ck.warmup_steps == sched.warmup_steps,
        "{}: schedule of {} steps ({} warmup), this run plans {} ({}): keep the data and batch settings", path,
        ck.total_steps, ck.warmup_steps, sched.total_steps, sched.warmup_steps);
  torch::NoGradGuard no_grad;
  bucket.params().copy_(flat_from(bucket, ck.trainable, "trainable", path));
  opt.load_state(ck.optimizer_steps, flat_from(bucket, ck.exp_avg, "optimizer/exp_avg", path),
                 flat_from(bucket, ck.exp_avg_sq, "optimizer/exp_avg_sq", path));
  if (w.is_root()) fmt::print(stderr, "resumed from {} at step {} (epoch {}, batch {})\n", path, ck.state.step,
                              ck.state.epoch, ck.state.cursor);
  if (ck.world_size == w.size) {
    restore_rng(ck.rng[w.rank], cuda);
    return ck.state;
  }
  reseed_dropout(seed, ck.state.step, w.rank);
  return continue_elastic(ck, train, w.size, w.is_root());
}

// The bucket's learning-rate segments at schedule factor `factor`: the score head at
// optim.head_lr, everything else at optim.lr (consecutive tensors of one kind merged).
std::vector<AdamW::Segment> lr_segments(const GradBucket& bucket, const TrainConfig& c, double factor) {
  std::vector<AdamW::Segment> out;
  int64_t offset = 0;
  for (const auto& [name, t] : bucket.named()) {
    const bool head = name.find(".score.") != std::string::npos;
    const double lr = factor * (head && c.head_lr >= 0 ? c.head_lr : c.lr);
    if (!out.empty() && out.back().lr == lr) {
      out.back().end += t.numel();
    } else {
      out.push_back({offset, offset + t.numel(), lr});
    }
    offset += t.numel();
  }
  return out;
}

// train.init_from: the adapters and head of another run (its newest checkpoint), of a checkpoint
// file, or of a PEFT adapter directory. Shapes must match this run's; the optimizer starts fresh.
void init_trainables(GemmaClassifierImpl& model, GradBucket& bucket, const std::string& from, double fingerprint) {
  torch::NoGradGuard no_grad;
  if (fs::is_regular_file(fs::path(from) / "adapter_model.safetensors")) {
    const auto n = load_peft_adapter(model, from);
    if (world().is_root()) fmt::print(stderr, "init: {} adapter tensors from the PEFT adapter {}\n", n, from);
    return;
  }
  const auto path = find_checkpoint(from);
  const auto ck = read_checkpoint(path);
  check(same_base(ck.base_fingerprint, fingerprint),
        "{}: trained on another base model (fingerprint {} vs {}): train.init_from needs the same base", path,
        ck.base_fingerprint, fingerprint);
  bucket.params().copy_(flat_from(bucket, ck.trainable, "trainable", path));
  if (world().is_root())
    fmt::print(stderr, "init: adapters and head from {} (step {}); optimizer and schedule start fresh\n", path,
               ck.state.step);
}

nlohmann::json eval_record(const char* split, const EvalResult& r, int64_t step) {
  nlohmann::json j = {{"kind", "eval"}, {"split", split}, {"step", step}, {"n", r.n}, {"accuracy", r.accuracy},
                      {"log_loss", r.log_loss}, {"log_loss_se", r.log_loss_se}};
  if (std::isfinite(r.mean_margin)) j["mean_margin"] = r.mean_margin;  // reward models
  return j;
}

}  // namespace

int run_training(const TrainConfig& given) {
  const World& w = world();
  // A resume on another rank count scales the batch settings and keeps the schedule (launch/elastic.h).
  const ElasticStart elastic = elastic_start(given, w.size);
  const TrainConfig& c = elastic.config;
  install_stop_handlers();
  const auto device = pick_device(c, w);
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  torch::set_num_threads(c.threads > 0 ? static_cast<int>(c.threads) : std::max(1, cores / w.local_size));
  if (w.is_root()) {
    fs::create_directories(c.out);
    TrainConfig resolved = c;  // to_toml binds the fields by reference
    std::ofstream(fs::path(c.out) / "config.toml") << to_toml(resolved);
  }
  host_barrier();  // the run directory exists before any rank reads or writes in it

  // Data: read, tokenize (or load the token cache), split 70/10/20 by row id. With a cache, rank 0
  // tokenizes first and the other ranks read its cache instead of tokenizing the same file again.
  const auto cache = token_cache_path(c);
  RunData data;
  const bool swap = c.swap != "none";
  if (w.is_root() || cache.empty()) data = load_run_data(c, cache, w.is_root(), swap);
  host_barrier();
  if (!w.is_root() && !cache.empty()) data = load_run_data(c, cache, false, swap);
  // Rows a batch trains on: the train split, then its A/B-swapped copy (launch/batches.h, swap_rows).
  const TokenizedData train_rows = swap ? concat(data.train, data.train_swapped) : TokenizedData{};
  const TokenizedData& trained = swap ? train_rows : data.train;
  if (w.is_root())
    fmt::print(stderr, "{}\nsplit: train {} / val {} / test {}\n",
               describe_report(c.data_path, data.report, data.train.size() + data.val.size() + data.test.size()),
               data.train.size(), data.val.size(), data.test.size());
  if (w.is_root()) write_split_file(c.out, data);

  // Model: frozen NF4 base + LoRA + head; the same initial adapters on every rank.
  auto model = build_classifier(c, device, w.is_root());
  const double fingerprint = base_fingerprint(*model);
  GradBucket bucket(peft_trainable_parameters(*model));
  auto comm = make_communicator(c.backend, w, device);
  if (!c.init_from.empty() && c.resume.empty()) init_trainables(*model, bucket, c.init_from, fingerprint);
  comm->broadcast(bucket.params(), 0);
  // bf16 copies of the fp32 trainables, cast once per change instead of at every use (none in fp32).
  const auto copies = attach_compute_copies(*model, bucket.named(), bucket.params());
  if (c.log_batches && w.is_root() && c.resume.empty())  // the starting point, for a replay (run_record.h)
    save_peft_adapter(*model, qlora_options(c), (fs::path(c.out) / "initial_adapter").string(),
                      c.model_path.empty() ? "random-init" : c.model_path);
  AdamW opt(bucket.params(), {c.beta1, c.beta2, c.eps, c.weight_decay});

  // Schedule over the whole run.
  EpochPlans plans(data.train, c, w.rank, w.size);
  int64_t total = elastic.keep_schedule ? elastic.total_steps : c.max_steps;
  if (total <= 0) {
    total = 0;
    for (int64_t e = 0; e < c.epochs; ++e) total += plans.steps(e);
  }
  check(total > 0, "no optimizer step fits: {} train rows, {} ranks, accum_steps {}", data.train.size(), w.size,
        c.accum_steps);
  const int64_t warmup = elastic.keep_schedule ? elastic.warmup_steps
                         : c.warmup_steps >= 0
                             ? c.warmup_steps
                             : static_cast<int64_t>(std::ceil(c.warmup_ratio * static_cast<double>(total)));
  const LrSchedule sched{c.lr, warmup, total, parse_decay(c.decay)};

  TrainState st;
  torch::manual_seed(static_cast<uint64_t>(c.seed) * 1000003ULL + static_cast<uint64_t>(w.rank) + 1);  // dropout
  if (!c.resume.empty())
    st = resume(c.resume, bucket, opt, sched, fingerprint, device.is_cuda(), data.train, c.seed);
  if (!st.consumed.empty()) plans.skip_in(st.epoch, st.consumed);  // mid-epoch after an elastic resume

  MetricsLog log((fs::path(c.out) / "metrics.jsonl").string(), w.is_root(),
                 c.tensorboard ? (fs::path(c.out) / "tensorboard").string() : std::string());
  log.write({{"kind", "start"}, {"ranks", w.size}, {"backend", comm->name()}, {"device", device.str()},
             {"trainable_params", bucket.numel()}, {"trainable_bytes", bucket.bytes()}, {"total_steps", total},
             {"warmup_steps", warmup}, {"resumed_at", st.step}, {"train_rows", data.train.size()}, {"swap", c.swap}});
  log.histogram("data/train_tokens_before_truncation",
                std::vector<double>(data.train.full_length.begin(), data.train.full_length.end()), st.step);
  if (w.is_root())
    fmt::print(stderr, "train: {} ranks ({} backend, {}), {} trainable parameters = {} bytes all-reduced per step, "
               "{} steps ({} warmup)\n", w.size, comm->name(), device.str(), bucket.numel(), bucket.bytes(), total,
               warmup);

  const Fault fault = fault_from_env();
  bool fault_fired = false;
  int64_t skips_in_a_row = 0;
  Throughput window, overall;
  double real_tokens = 0, padded_tokens = 0;  // this process's steps: the summary's padded share
  BatchLog batch_log(c, data.train, w.size, c.log_batches && w.is_root());
  if (!st.consumed.empty()) batch_log.skip_in(st.epoch, st.consumed);
  ProgressBar bar("train", "steps", total, w.is_root());
  bar.update(st.step);
  start_watchdog(c.dist_timeout);  // from here on every rank's work per step is comparable
  const auto loop_start = std::chrono::steady_clock::now();
  model->train();
  bool stopped = false;
  int64_t last_saved = -1;
  while (st.step < total) {
    if (st.cursor + c.accum_steps > plans.steps(st.epoch) * c.accum_steps) {  // epoch done
      ++st.epoch;
      st.cursor = 0;
      st.consumed.clear();  // rows trained before an elastic resume: only its epoch plans without them
      check(plans.steps(st.epoch) > 0, "epoch {} has no optimizer step ({} train rows, {} ranks, accum_steps {})",
            st.epoch, data.train.size(), w.size, c.accum_steps);
      continue;
    }
    const auto& plan = plans.at(st.epoch);
    set_watchdog_step(st.step + 1);
    batch_log.record(st.step + 1, st.epoch, st.cursor);

    // Forward and backward over the step's micro-batches; gradients accumulate in the bucket. The
    // loss sum and correct count stay on the device until the step's end: one host sync per step.
    StepTotals local;
    auto sums = torch::zeros({2}, torch::TensorOptions().dtype(torch::kFloat64).device(device));
    for (int64_t k = 0; k < c.accum_steps; ++k) {
      const Batch b = collate(trained, swap_rows(plan[st.cursor + k], data.train, c, st.epoch), device);
      const auto logits = model->forward(b.ids, b.mask);
      const auto step = objective_loss(c, logits, b);
      (step.loss * static_cast<double>(b.rows)).backward();  // a sum over rows; scaled by the global row count below
      copies->fold_grads(bucket.grads());
      local.rows += b.rows;
      local.tokens += b.tokens;
      local.padded_tokens += b.padded_tokens;
      sums.add_(torch::stack({step.loss.detach().to(torch::kFloat64) * static_cast<double>(b.rows), step.correct}));
    }
    const auto host_sums = sums.cpu();
    local.loss_sum = host_sums[0].item<double>();
    local.correct = host_sums[1].item<double>();
    if (fault.rank == w.rank && fault.step == st.step + 1 && !fault_fired) {
      fault_fired = true;
      if (fault.kind == "throw") throw Error(fmt::format("injected fault at step {} (ARENA_FAULT)", st.step + 1));
      if (fault.kind == "nan") bucket.grads()[0] = std::numeric_limits<float>::quiet_NaN();
    }
    local.nonfinite = !std::isfinite(local.loss_sum) || !bucket.grads_finite();
    local.stop = stop_requested() || (c.stop_after >= 0 && st.step + 1 >= c.stop_after);

    // Agree on the step, then reduce the gradients once and update.
    StepTotals global = local;
    host_sum(&global.rows, sizeof(StepTotals) / sizeof(double),
             "the per-step agreement (MPI_Allreduce of the step totals)");
    st.cursor += c.accum_steps;
    st.samples += static_cast<int64_t>(global.rows);
    st.tokens += static_cast<int64_t>(global.tokens);
    real_tokens += global.tokens;
    padded_tokens += global.padded_tokens;
    if (global.nonfinite > 0) {
      check(c.nonfinite == "skip", "non-finite loss or gradient at step {} on {} rank(s) (train.nonfinite = stop)",
            st.step + 1, global.nonfinite);
      ++st.skipped_steps;
      check(++skips_in_a_row <= kMaxSkipsInARow, "{} optimizer steps in a row had non-finite values: stopping",
            skips_in_a_row);
      bucket.zero_grads();
      log.write({{"kind", "skip"}, {"step", st.step + 1}, {"ranks_nonfinite", global.nonfinite},
                 {"skipped_steps", st.skipped_steps}});
      if (w.is_root())
        print_above(fmt::format("step {}: non-finite loss/gradient on {} rank(s): step skipped on all ranks\n",
                                st.step + 1, global.nonfinite));
    } else {
      skips_in_a_row = 0;
      comm->all_reduce_sum(bucket.grads());
      bucket.grads().div_(global.rows);
      const double grad_norm = clip_grad_norm(bucket.grads(), c.max_grad_norm);
      const double lr = sched.lr(st.step);
      opt.step(bucket.params(), bucket.grads(), lr_segments(bucket, c, sched.factor(st.step)));
      bucket.zero_grads();
      ++st.step;

      window.add(static_cast<int64_t>(global.tokens), static_cast<int64_t>(global.rows));
      overall.add(static_cast<int64_t>(global.tokens), static_cast<int64_t>(global.rows));
      log.write({{"kind", "train"}, {"step", st.step}, {"epoch", st.epoch}, {"loss", global.loss_sum / global.rows},
                 {"accuracy", global.correct / global.rows}, {"lr", lr}, {"grad_norm", grad_norm},
                 {"rows", global.rows}, {"tokens", global.tokens}, {"padded_tokens", global.padded_tokens},
                 {"reduced_bytes", bucket.bytes()},
                 {"tokens_per_s", window.tokens_per_s()}, {"samples_per_s", window.samples_per_s()}});
      if (bar.live()) {  // a terminal: one live line
        bar.update(st.step, fmt::format("ep {} loss {:.4f} acc {:.3f} lr {:.2e} {:.0f} tok/s", st.epoch,
                                        global.loss_sum / global.rows, global.correct / global.rows, lr,
                                        overall.tokens_per_s()));
      } else if (w.is_root() && (st.step % c.log_every == 0 || st.step == total)) {  // logs: periodic lines
        fmt::print(stderr, "step {}/{} ep {} | loss {:.4f} acc {:.3f} | lr {:.2e} gnorm {:.3f} | {:.0f} tok/s "
                   "{:.1f} samples/s | ETA {}\n", st.step, total, st.epoch, global.loss_sum / global.rows,
                   global.correct / global.rows, lr, grad_norm, window.tokens_per_s(), window.samples_per_s(),
                   format_duration(overall.seconds_per_step() * static_cast<double>(total - st.step)));
        window.reset();
      }
    }

    // Validation and checkpoints on schedule (or at each epoch's end), and on a stop request.
    const bool epoch_end = st.cursor + c.accum_steps > plans.steps(st.epoch) * c.accum_steps;
    const bool finished = st.step >= total;
    if ((c.eval_every > 0 ? st.step % c.eval_every == 0 && global.nonfinite == 0 : epoch_end) && !finished) {
      torch::Tensor probs;
      const auto r = evaluate(*model, data.val, c.eval_rows, device, &probs);
      log.write(eval_record("val", r, st.step));
      log.histogram("val/p_true_label", label_probabilities(probs, data.val), st.step);
      if (w.is_root())
        print_above(fmt::format("val  step {}: accuracy {:.4f} log loss {:.4f} (n {})\n", st.step, r.accuracy,
                                r.log_loss, r.n));
    }
    stopped = global.stop > 0;
    if (finished || stopped || (c.checkpoint_every > 0 ? st.step % c.checkpoint_every == 0 && global.nonfinite == 0
                                                       : epoch_end)) {
      if (st.step != last_saved) save(c.out, c, st, bucket, opt, sched, fingerprint, device.is_cuda(), log);
      last_saved = st.step;
    }
    if (stopped) break;
  }

  bar.finish();
  if (stopped) {
    if (w.is_root())
      fmt::print(stderr, "stopped at step {} of {} ({}); continue with: arena train --resume {}\n", st.step, total,
                 stop_signal() ? fmt::format("signal {}", stop_signal()) : std::string("train.stop_after"), c.out);
    log.write({{"kind", "stopped"}, {"step", st.step}, {"signal", stop_signal()}});
    return 0;
  }

  const double train_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - loop_start).count();

  // The end: validation and test splits, forward passes only from here, so on the CPU freed
  // activations stay in the heap for the next batch (launch/heap_policy.h).
  if (device.is_cpu()) keep_freed_memory_in_heap();
  torch::Tensor val_probs, test_probs;
  const auto val = evaluate(*model, data.val, c.eval_rows, device, &val_probs);
  const auto test = evaluate(*model, data.test, c.eval_rows, device, &test_probs);
  // With train.swap the test pairs are also scored in B-A order (mapped back): swap consistency in `arena report`.
  const auto test_swapped = swap ? unswap(class_probabilities(*model, data.test_swapped, c.eval_rows, device))
                                 : torch::Tensor();
  if (w.is_root()) write_test_predictions(c.out, data.test, c.max_len, test_probs, test_swapped);
  log.write(eval_record("val", val, st.step));
  log.write(eval_record("test", test, st.step));
  log.histogram("val/p_true_label", label_probabilities(val_probs, data.val), st.step);
  log.histogram("test/p_true_label", label_probabilities(test_probs, data.test), st.step);
  const auto base = compute_baselines(data.test, data.train, static_cast<int>(std::max<int64_t>(2, c.num_labels)));
  auto base_record = baselines_json(base);
  base_record.update({{"kind", "baselines"}, {"split", "test"}});
  log.write(base_record);
  const auto peak = largest_peak_memory(device);  // every rank's, the largest of each
  auto summary = nlohmann::json{{"kind", "summary"}, {"steps", st.step}, {"skipped_steps", st.skipped_steps},
                                {"samples", st.samples}, {"tokens", st.tokens}, {"test_accuracy", test.accuracy},
                                {"test_log_loss", test.log_loss}, {"train_seconds", train_seconds},
                                {"padded_share", padded_tokens > 0 ? 1.0 - real_tokens / padded_tokens : 0.0},
                                {"peak_rss_mib", peak.rss_mib}};
  if (peak.device_allocated_mib >= 0) summary["peak_device_allocated_mib"] = peak.device_allocated_mib;
  log.write(summary);
  if (w.is_root()) {
    fmt::print(stderr, "val  {}\ntest {}\n", describe_eval(val), describe_eval(test));
    fmt::print(stderr, "test baselines: {}\n", baselines_text(base));
    fmt::print(stderr, "run directory: {}\n  config       {}/config.toml\n  metrics      {}/metrics.jsonl\n"
               "  checkpoint   {}\n", c.out, c.out, c.out, checkpoint_path(c.out, st.step));
  }
  return 0;
}

}  // namespace arena
