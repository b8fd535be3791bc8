#include "launch/run_data.h"

#include <fmt/format.h>

#include <numeric>

#include "common/error.h"
#include "data/encode.h"
#include "data/split.h"
#include "data/teacher.h"
#include "data/tokenizer.h"
#include "launch/vocab_check.h"
#include "model/io/gguf.h"

namespace arena {

TokenizedData subset(const TokenizedData& d, const std::vector<int64_t>& rows) {
  TokenizedData out;
  out.offsets.push_back(0);
  for (const int64_t r : rows) {
    out.ids.insert(out.ids.end(), d.ids.begin() + d.offsets[r], d.ids.begin() + d.offsets[r + 1]);
    out.offsets.push_back(static_cast<int64_t>(out.ids.size()));
    out.full_length.push_back(d.full_length[r]);
    out.answer_chars.insert(out.answer_chars.end(), {d.answer_chars[2 * r], d.answer_chars[2 * r + 1]});
    out.answer_tokens.insert(out.answer_tokens.end(), {d.answer_tokens[2 * r], d.answer_tokens[2 * r + 1]});
    out.labels.push_back(d.labels[r]);
    out.row_ids.push_back(d.row_ids[r]);
    if (d.target_width > 0)
      out.targets.insert(out.targets.end(), d.targets.begin() + r * d.target_width,
                         d.targets.begin() + (r + 1) * d.target_width);
    if (d.has_responses()) {
      if (out.offsets_b.empty()) out.offsets_b.push_back(0);
      out.ids_b.insert(out.ids_b.end(), d.ids_b.begin() + d.offsets_b[r], d.ids_b.begin() + d.offsets_b[r + 1]);
      out.offsets_b.push_back(static_cast<int64_t>(out.ids_b.size()));
      out.margins.push_back(d.margins[r]);
    }
  }
  out.target_width = d.target_width;
  if (d.has_responses() && out.offsets_b.empty()) out.offsets_b.push_back(0);
  return out;
}

TokenizedData concat(const TokenizedData& a, const TokenizedData& b) {
  std::vector<int64_t> all(static_cast<size_t>(a.size()));
  std::iota(all.begin(), all.end(), 0);
  TokenizedData out = subset(a, all);
  const int64_t base = static_cast<int64_t>(out.ids.size());
  out.ids.insert(out.ids.end(), b.ids.begin(), b.ids.end());
  for (int64_t k = 1; k < static_cast<int64_t>(b.offsets.size()); ++k) out.offsets.push_back(base + b.offsets[k]);
  out.full_length.insert(out.full_length.end(), b.full_length.begin(), b.full_length.end());
  out.answer_chars.insert(out.answer_chars.end(), b.answer_chars.begin(), b.answer_chars.end());
  out.answer_tokens.insert(out.answer_tokens.end(), b.answer_tokens.begin(), b.answer_tokens.end());
  out.labels.insert(out.labels.end(), b.labels.begin(), b.labels.end());
  out.row_ids.insert(out.row_ids.end(), b.row_ids.begin(), b.row_ids.end());
  check(a.target_width == b.target_width, "concat: soft targets of width {} and {}", a.target_width, b.target_width);
  out.targets.insert(out.targets.end(), b.targets.begin(), b.targets.end());
  check(a.has_responses() == b.has_responses(), "concat: reward sequences in one part only");
  if (b.has_responses()) {
    const int64_t base_b = static_cast<int64_t>(out.ids_b.size());
    out.ids_b.insert(out.ids_b.end(), b.ids_b.begin(), b.ids_b.end());
    for (int64_t k = 1; k < static_cast<int64_t>(b.offsets_b.size()); ++k) out.offsets_b.push_back(base_b + b.offsets_b[k]);
    out.margins.insert(out.margins.end(), b.margins.begin(), b.margins.end());
  }
  return out;
}

namespace {

// train.objective = distill: each train row gets its teachers' probabilities (and the swapped copy
// the same with A and B exchanged). A row without a usable teacher value leaves the train split,
// counted in the report by the reason, which names the teacher file.
void attach_teacher_targets(const TrainConfig& c, RunData& out) {
  const TeacherTargets teachers({c.distill_teachers, c.distill_weights, c.distill_columns, c.distill_tolerance},
                                static_cast<int>(c.num_labels));
  const int64_t width = c.num_labels;
  std::vector<int64_t> keep;
  std::vector<float> targets, swapped;
  std::vector<double> p;
  TeacherProblem why;
  for (int64_t i = 0; i < out.train.size(); ++i) {
    const auto& id = out.train.row_ids[static_cast<size_t>(i)];
    if (!teachers.lookup(id, p, why)) {
      out.report.skip({why.file, why.line, id, why.reason});
      continue;
    }
    keep.push_back(i);
    targets.insert(targets.end(), p.begin(), p.end());
    std::swap(p[0], p[1]);  // B-A order: "A wins" is the original "B wins"; a tie stays a tie
    swapped.insert(swapped.end(), p.begin(), p.end());
  }
  out.train = subset(out.train, keep);
  out.train.targets = std::move(targets);
  out.train.target_width = width;
  if (out.train_swapped.size() > 0) {
    out.train_swapped = subset(out.train_swapped, keep);
    out.train_swapped.targets = std::move(swapped);
    out.train_swapped.target_width = width;
  }
}

}  // namespace

RunData load_run_data(const TrainConfig& c, const std::string& cache_path, bool write_cache, bool with_swapped) {
  ReadOptions ro;
  ro.format = parse_data_format(c.data_format);
  ro.labels = parse_label_mode(c.labels);
  ro.seed = static_cast<uint64_t>(c.split_seed);
  const DataFormat format = ro.format == DataFormat::kAuto ? detect_data_format(c.data_path) : ro.format;
  const Tokenizer tok(c.tokenizer);
  // A GGUF base carries its own vocabulary: the tokenizer must be that model's.
  if (is_gguf_path(c.model_path)) {
    check_vocabulary(gguf_vocabulary(open_gguf_model(c.model_path)), c.model_path, tok);
  }
  const PairEncoder encoder(tok, c.max_len, c.show_lengths);
  const bool reward = c.objective == "reward";  // two sequences per pair; the cache holds one
  const auto key = cache_key(c.data_path, ro, format, encoder);
  const SplitFractions fractions{c.train_fraction, c.val_fraction};
  const auto split_index = [&](const std::string& id) {
    return static_cast<int>(split_of(id, static_cast<uint64_t>(c.split_seed), fractions));
  };
  // The splits in file order: appended to as the file is read, or cut from `all` when the whole
  // file in order is needed (a cache to write or one that was read).
  TokenizedData all, parts[3], swapped[3];
  for (auto* t : {&parts[0], &parts[1], &parts[2], &swapped[0], &swapped[1], &swapped[2]}) t->offsets = {0};
  if (reward)
    for (auto& t : parts) t.offsets_b = {0};
  const bool cached = !reward && !cache_path.empty() && load_token_cache(cache_path, key, all);
  const bool write = !reward && !cached && !cache_path.empty() && write_cache;
  // One pass over the file, one record in memory at a time: each pair is encoded (both orders when
  // asked for) and only its ids and per-row numbers are kept, once. A cache hit still reads the
  // file, for the rows read and skipped (and the swapped order, which is not cached).
  const auto info = for_each_pair(c.data_path, ro, [&](Pair&& p) {
    const int k = split_index(p.id);
    if (reward) append_responses(parts[k], encoder.encode_responses(p), p.id, p.margin);
    else if (write) append_pair(all, encoder.encode(p), p.id);
    else if (!cached) append_pair(parts[k], encoder.encode(p), p.id);
    if (with_swapped) append_pair(swapped[k], encoder.encode(p, /*swap_ab=*/true), p.id);
  });
  if (write) {
    if (all.offsets.empty()) all.offsets.push_back(0);
    save_token_cache(cache_path, all, key);
  }
  if (cached || write) {
    std::vector<int64_t> rows[3];
    for (int64_t i = 0; i < all.size(); ++i) rows[split_index(all.row_ids[i])].push_back(i);
    for (int k = 0; k < 3; ++k) parts[k] = subset(all, rows[k]);
    all = {};
  }
  RunData out;
  out.report = info.report;
  out.format = info.format;
  out.train = std::move(parts[static_cast<int>(Split::kTrain)]);
  out.val = std::move(parts[static_cast<int>(Split::kVal)]);
  out.test = std::move(parts[static_cast<int>(Split::kTest)]);
  if (with_swapped) {
    out.train_swapped = std::move(swapped[static_cast<int>(Split::kTrain)]);
    out.val_swapped = std::move(swapped[static_cast<int>(Split::kVal)]);
    out.test_swapped = std::move(swapped[static_cast<int>(Split::kTest)]);
  }
  if (c.objective == "distill") attach_teacher_targets(c, out);
  return out;
}

std::string describe_report(const std::string& path, const ReadReport& r, size_t used) {
  std::string s = fmt::format("data: {}: {} rows read, {} used, {} skipped", path, r.rows_read, used, r.skipped_total());
  for (const auto& [reason, count] : r.skipped) s += fmt::format("\n  skipped {:>6}  {}", count, reason);
  return s;
}

}  // namespace arena
