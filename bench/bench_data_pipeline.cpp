// Data pipeline speed on one core: read + format + tokenize + truncate, rows/s and tokens/s, and
// where the time goes.
//
// The tokenizer caches words per thread, so each cold pass runs on a fresh thread (an empty
// cache: the first epoch over a new file) and the warm pass repeats it on the same thread (a
// second epoch, or a large corpus where most words repeat). One thread at a time: one core.
// Each figure is the best of --reps passes. Splits reported:
//   read         file -> pairs (parse, JSON/CSV/Parquet decoding)
//   new words    encoding words not in the cache yet (native BPE) and caching them: the cold minus
//                the warm time of tokenizing the texts alone
//   known words  splitting the texts into words and copying their cached ids: the warm time of
//                tokenizing the texts alone
//   template     the rest of encoding: template pieces, section budgets, head+tail cuts (warm
//                encode minus warm tokenize)
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <string>
#include <thread>
#include <vector>

#include "data/encode.h"
#include "data/reader.h"
#include "data/tokenizer.h"

namespace {

using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

struct Best {
  double seconds = 1e300;
  void add(double s) { seconds = std::min(seconds, s); }
};

}  // namespace

int main(int argc, char** argv) {
  std::vector<std::string> files{"../shared/data/autoj-pairwise.jsonl", "../shared/data/lmsys-arena-train-sample.csv"};
  std::string tokenizer = "../shared/gemma/tokenizer.model";
  int64_t max_len = 1900;
  int reps = 5;
  CLI::App app{"Data pipeline throughput on one core: cold (empty word cache) and warm passes"};
  app.add_option("--data", files, "Data files");
  app.add_option("--tokenizer", tokenizer, "tokenizer.model");
  app.add_option("--max-len", max_len, "Token budget");
  app.add_option("--reps", reps, "Passes per figure; the best is reported")->check(CLI::PositiveNumber);
  CLI11_PARSE(app, argc, argv);

  const auto t_load = Clock::now();
  const arena::Tokenizer tok(tokenizer);
  fmt::print("tokenizer load: {:.0f} ms (once per process; native BPE encoder: {})\n", 1000 * seconds_since(t_load),
             tok.native_unsupported().empty() ? "on" : "off, " + tok.native_unsupported());
  const arena::PairEncoder enc(tok, max_len);

  for (const auto& f : files) {
    Best read, tokenize_cold, tokenize_warm, encode_cold, encode_warm;
    arena::Dataset data;
    for (int r = 0; r < reps; ++r) {
      const auto t0 = Clock::now();
      data = arena::read_pairs(f, {});
      read.add(seconds_since(t0));
    }
    const auto tokenize_all = [&] {
      for (const auto& p : data.pairs)
        for (const auto* turns : {&p.prompt, &p.response_a, &p.response_b})
          for (const auto& t : *turns) tok.encode(t);
    };
    int64_t tokens = 0;
    const auto encode_all = [&] {
      tokens = 0;
      for (const auto& p : data.pairs) tokens += enc.encode(p).full_length;
    };
    // Each pass: a fresh thread (empty cache) times `work` cold, then again warm.
    const auto cold_then_warm = [](const std::function<void()>& work, Best& cold, Best& warm) {
      std::thread t([&] {
        auto t0 = Clock::now();
        work();
        cold.add(seconds_since(t0));
        t0 = Clock::now();
        work();
        warm.add(seconds_since(t0));
      });
      t.join();
    };
    for (int r = 0; r < reps; ++r) {
      cold_then_warm(tokenize_all, tokenize_cold, tokenize_warm);
      cold_then_warm(encode_all, encode_cold, encode_warm);
    }
    const double rows = static_cast<double>(data.pairs.size());
    const double template_work = std::max(0.0, encode_warm.seconds - tokenize_warm.seconds);
    const double new_words = std::max(0.0, tokenize_cold.seconds - tokenize_warm.seconds);
    const auto report = [&](const char* what, double encode, double fresh) {
      const double total = read.seconds + encode;
      fmt::print("{} ({}): {:.0f} rows, {} tokens in {:.1f} ms: {:.0f} rows/s, {:.2f} M tokens/s on one core\n"
                 "    read {:.0f}% | new words {:.0f}% | known words {:.0f}% | template+truncate {:.0f}%\n",
                 f, what, rows, tokens, 1000 * total, rows / total, tokens / total / 1e6, 100 * read.seconds / total,
                 100 * fresh / total, 100 * tokenize_warm.seconds / total, 100 * template_work / total);
    };
    report("cold cache", encode_cold.seconds, new_words);
    report("warm cache", encode_warm.seconds, 0.0);
  }
  return 0;
}
