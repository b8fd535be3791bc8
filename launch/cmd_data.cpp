#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <memory>
#include <string>
#include <thread>

#include "data/encode.h"
#include "data/reader.h"
#include "data/summary.h"
#include "data/tokenizer.h"
#include "launch/commands.h"
#include "launch/progress.h"

namespace arena {
namespace {

struct DataOptions {
  std::string data;
  std::string format = "auto";
  std::string labels = "3class";
  std::string tokenizer = "../shared/gemma/tokenizer.model";
  int64_t max_len = 1900;
  uint64_t seed = 0;
  int threads = 0;  // 0: all hardware threads
  bool json = false;
};

int run_data(const DataOptions& o) {
  ReadOptions ro;
  ro.format = parse_data_format(o.format);
  ro.labels = parse_label_mode(o.labels);
  ro.seed = o.seed;
  ro.require_labels = false;  // test files have no labels: count them as "none"
  const auto t0 = std::chrono::steady_clock::now();
  const Tokenizer tok(o.tokenizer);
  const PairEncoder encoder(tok, o.max_len);
  const int threads = o.threads > 0 ? o.threads : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  // The file is streamed, so the number of pairs is known only at the end: until then the bar
  // counts pairs without a total. A live bar on a terminal; in a log, a plain line every 10 s and one at the end.
  ProgressBar bar("tokenize", "pairs", 0, true);
  auto last_line = t0;
  const auto progress = [&](int64_t done) {
    if (bar.live()) return bar.update(done);
    const auto now = std::chrono::steady_clock::now();
    if (now - last_line < std::chrono::seconds(10)) return;
    last_line = now;
    const double s = std::chrono::duration<double>(now - t0).count();
    fmt::print(stderr, "tokenizing: {} pairs, {:.0f} pairs/s\n", done, done / std::max(s, 1e-9));
  };
  const auto s = summarize_file(o.data, ro, encoder, o.seed, threads, progress);
  bar.set_total(s.used);  // known now: the bar ends full, "N/N pairs"
  bar.update(s.used);
  bar.finish();
  const auto& data = s.read;
  fmt::print(stderr, "tokenized {} pairs in {:.1f} s\n", s.used,
             std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());

  fmt::print("file            {} ({} format)\n", o.data, data_format_name(data.format));
  fmt::print("rows            {} read, {} used, {} skipped\n", data.report.rows_read, s.used,
             data.report.skipped_total());
  for (const auto& [reason, count] : data.report.skipped) fmt::print("  skipped       {:>6}  {}\n", count, reason);
  for (size_t i = 0; i < std::min<size_t>(data.report.examples.size(), 5); ++i) {
    const auto& r = data.report.examples[i];
    fmt::print("  e.g.          {}:{} id '{}': {}\n", r.file, r.line, r.id, r.reason);
  }
  fmt::print("labels         ");
  for (const auto& [name, count] : s.labels) fmt::print(" {} {}", name, count);
  fmt::print("\nsplit           train {} / val {} / test {} (seed {})\n", s.split.at("train"), s.split.at("val"),
             s.split.at("test"), o.seed);
  fmt::print("tokens          p50 {} / p90 {} / p99 {} / max {} before truncation (template: {})\n", s.p50, s.p90,
             s.p99, s.max, encoder.template_tokens());
  fmt::print("truncated       {:.1f}% of pairs exceed max_len {}\n", 100 * s.truncated_fraction, o.max_len);
  if (s.estimated > 0)
    fmt::print("estimated       {} pairs have a turn over {} KiB: tokenized only at its ends (what truncation keeps), "
               "so their lengths above are estimates\n", s.estimated, PairEncoder::kFullBelowBytes / 1024);
  if (o.json) {
    nlohmann::json labels = nlohmann::json::object();
    for (const char* k : {"model_a", "model_b", "tie"}) labels[k] = s.labels.count(k) ? s.labels.at(k) : 0;
    if (s.labels.count("none")) labels["none"] = s.labels.at("none");
    const nlohmann::json j = {{"rows_read", data.report.rows_read},
                              {"rows_skipped", data.report.skipped},
                              {"labels", labels},
                              {"split", s.split},
                              {"tokens", {{"p50", s.p50}, {"p90", s.p90}, {"p99", s.p99}, {"max", s.max}}},
                              {"truncated_fraction", s.truncated_fraction},
                              {"estimated_lengths", s.estimated}};
    fmt::print("{}\n", j.dump());
  }
  return 0;
}

}  // namespace

Command add_data_command(CLI::App& app) {
  auto o = std::make_shared<DataOptions>();
  auto* cmd = app.add_subcommand("data", "Read a data file and report rows, skips, labels, split and token lengths");
  cmd->add_option("--data", o->data, "LMSYS .csv, WSDM-style .jsonl/.csv, or chosen/rejected .jsonl")->required();
  add_format_option(cmd, o->format);
  cmd->add_option("--labels", o->labels, "binary (ties dropped and counted) or 3class")
      ->check(CLI::IsMember({"binary", "3class"}));
  cmd->add_option("--max-len", o->max_len, "Token budget per pair, template included")->check(CLI::PositiveNumber);
  cmd->add_option("--tokenizer", o->tokenizer, "SentencePiece tokenizer.model");
  cmd->add_option("--seed", o->seed, "Split seed (and pairwise A/B swap seed)");
  cmd->add_option("--threads", o->threads, "Tokenizer threads (0: all cores)");
  cmd->add_flag("--json", o->json, "End with one JSON object on the last line of stdout");
  return [cmd, o]() { return cmd->parsed() ? run_data(*o) : -1; };
}

}  // namespace arena
