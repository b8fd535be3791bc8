// Data pipeline speed on one core: read + format + tokenize + truncate, rows/s and tokens/s, and
// where the time goes (reading/parsing vs tokenizing + truncating). The tokenizer caches words per
// thread, so the first pass over a file (cold cache) and later passes (warm: a second epoch, or a
// large corpus where most words repeat) are reported separately.
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <string>
#include <vector>

#include "data/encode.h"
#include "data/reader.h"
#include "data/tokenizer.h"

int main(int argc, char** argv) {
  std::vector<std::string> files{"../shared/data/autoj-pairwise.jsonl", "../shared/data/lmsys-arena-train-sample.csv"};
  std::string tokenizer = "../shared/gemma/tokenizer.model";
  int64_t max_len = 1900;
  int reps = 3;
  CLI::App app{"Data pipeline throughput on one core"};
  app.add_option("--data", files, "Data files");
  app.add_option("--tokenizer", tokenizer, "tokenizer.model");
  app.add_option("--max-len", max_len, "Token budget");
  app.add_option("--reps", reps, "Repetitions; the first is the cold pass, the best of the rest the warm one");
  CLI11_PARSE(app, argc, argv);

  const arena::Tokenizer tok(tokenizer);
  const arena::PairEncoder enc(tok, max_len);
  for (const auto& f : files) {
    struct Pass {
      double read, encode;
    };
    std::vector<Pass> passes;
    int64_t rows = 0, tokens = 0;
    for (int r = 0; r < std::max(reps, 2); ++r) {
      const auto t0 = std::chrono::steady_clock::now();
      const auto data = arena::read_pairs(f, {});
      const auto t1 = std::chrono::steady_clock::now();
      tokens = 0;
      for (const auto& p : data.pairs) tokens += enc.encode(p).full_length;
      const auto t2 = std::chrono::steady_clock::now();
      rows = static_cast<int64_t>(data.pairs.size());
      passes.push_back({std::chrono::duration<double>(t1 - t0).count(), std::chrono::duration<double>(t2 - t1).count()});
    }
    const auto report = [&](const char* what, const Pass& p) {
      const double total = p.read + p.encode;
      fmt::print("{} ({}): {} rows, {} tokens; {:.0f} rows/s, {:.0f} tokens/s on one core; read+parse {:.1f}% / "
                 "tokenize+truncate {:.1f}%\n",
                 f, what, rows, tokens, rows / total, tokens / total, 100 * p.read / total, 100 * p.encode / total);
    };
    report("cold cache", passes.front());
    report("warm cache", *std::min_element(passes.begin() + 1, passes.end(), [](const Pass& a, const Pass& b) {
      return a.read + a.encode < b.read + b.encode;
    }));
  }
  return 0;
}
