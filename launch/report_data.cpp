#include "launch/report_data.h"

#include <fmt/format.h>

#include <unordered_map>

#include "common/error.h"
#include "data/encode.h"
#include "data/reader.h"
#include "data/token_cache.h"
#include "data/tokenizer.h"

namespace arena {

DataView read_run_data(const RunRecord& run, const std::string& path) {
  check(run.has_config, "{}: no readable config.toml: the data's format, labels and token budget are unknown",
        run.dir);
  const auto& c = run.config;
  DataView v;
  v.path = path.empty() ? c.data_path : path;
  v.max_len = c.max_len;
  v.labels = c.labels;
  check(!v.path.empty(), "{}: config.toml names no data.path (give --data)", run.dir);
  ReadOptions ro;  // as load_run_data (launch/run_data.cpp) reads it
  ro.format = parse_data_format(c.data_format);
  ro.labels = parse_label_mode(c.labels);
  ro.seed = static_cast<uint64_t>(c.split_seed);
  const Tokenizer tok(c.tokenizer);
  const PairEncoder encoder(tok, c.max_len, c.show_lengths);
  // Streamed (data/reader.h for_each_pair): a row keeps its numbers and model names, not its text.
  std::unordered_map<std::string, size_t> by_id;
  for_each_pair(v.path, ro, [&](Pair&& p) {
    const auto e = encoder.encode(p);
    auto& r = v.rows.emplace_back();
    r.id = p.id;
    r.label = p.label;
    r.tokens = e.full_length;
    r.tokens_a = e.tokens_a;
    r.tokens_b = e.tokens_b;
    r.model_a = std::move(p.model_a);
    r.model_b = std::move(p.model_b);
    by_id.emplace(p.id, v.rows.size() - 1);
  });
  int64_t wanted = 0, missing = 0;
  std::string example;
  for (int k = 0; k < 3; ++k) {
    for (const auto& id : run.split_ids[k]) {
      ++wanted;
      const auto it = by_id.find(id);
      if (it == by_id.end()) {
        if (missing++ == 0) example = id;
        continue;
      }
      v.rows[it->second].split = k;
    }
  }
  v.matches_run = wanted > 0 && missing == 0;
  if (wanted == 0) {
    v.notes.push_back(fmt::format("{}: the run has no split.json: the data's rows are not matched to train/val/test",
                                  run.dir));
  } else if (missing > 0) {
    v.notes.push_back(fmt::format("{}: {} of the run's {} rows (split.json) are not in this file (e.g. row id '{}'): "
                                  "it is not the data {} trained on; its charts describe the file, not the run",
                                  v.path, missing, wanted, example, run.name));
    for (auto& r : v.rows) r.split = -1;
  }
  return v;
}

}  // namespace arena
