// Streaming reads (issue 19 part 5): the CSV reader that holds one record gives the records, line
// numbers and errors of the whole-text parser, and the streamed `arena data` summary equals the
// one over pairs held in memory.
#include <gtest/gtest.h>

#include <fstream>
#include <random>
#include <string>
#include <vector>

#include "common/error.h"
#include "data/csv.h"
#include "data/reader.h"
#include "data/summary.h"
#include "data/text_input.h"
#include "data/tokenizer.h"
#include "test_support.h"

namespace arena {
namespace {

void write(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
}

struct Parsed {
  std::vector<CsvRecord> records;
  std::string error;  // the exception's message, empty when none
};

Parsed whole(const std::string& text, const std::string& path) {
  Parsed p;
  try {
    for_each_csv_record(text, path, [&](const CsvRecord& r) { p.records.push_back(r); });
  } catch (const Error& e) {
    p.error = e.what();
  }
  return p;
}

Parsed streamed(const std::string& path) {
  Parsed p;
  try {
    TextInput in(path);
    CsvReader reader(in);
    for (CsvRecord r; reader.next(r);) p.records.push_back(r);
  } catch (const Error& e) {
    p.error = e.what();
  }
  return p;
}

// `text` with its control characters visible, for failure messages.
std::string shown(const std::string& text) {
  std::string s;
  for (char c : text) s += c == '\n' ? "\\n" : c == '\r' ? "\\r" : std::string(1, c);
  return s;
}

void expect_same(const std::string& text, const std::string& path) {
  write(path, text);
  const auto a = whole(text, path), b = streamed(path);
  EXPECT_EQ(a.error, b.error) << shown(text);
  ASSERT_EQ(a.records.size(), b.records.size()) << shown(text);
  for (size_t i = 0; i < a.records.size(); ++i) {
    EXPECT_EQ(a.records[i].line, b.records[i].line) << shown(text);
    EXPECT_EQ(a.records[i].fields, b.records[i].fields) << shown(text);
  }
}

TEST(CsvReader, HandWrittenCasesMatchTheWholeTextParser) {
  testing::TempDir dir;
  const auto path = dir / "x.csv";
  for (const std::string text : {
           "a,b\n1,2\n", "a,b\n1,2", "a,b\r\n1,\"x\r\ny\"\r\n", "a,b\n\"q\"\"uote\",\"multi\nline\n\nend\"\n3,4\n",
           "a\n\n\nb\n", "", "\n", "a,\"\"\"\"\n", "a,\"never closed\nmore\n", "a,b\"c\n", "a,\"x\"y\n",
           "a,\"\"\n\"\",b\n", "x,\"1\n2\"\"\n3\"\nz\n"})
    expect_same(text, path);
}

TEST(CsvReader, RandomTextsMatchTheWholeTextParser) {
  testing::TempDir dir;
  const auto path = dir / "r.csv";
  std::mt19937 rng(7);
  const char alphabet[] = {'a', ',', '"', '\n', '\r', ' '};
  for (int t = 0; t < 1000; ++t) {
    std::string text(rng() % 40, 'a');
    for (auto& c : text) c = alphabet[rng() % 6];
    expect_same(text, path);
  }
}

TEST(Stream, SummaryOfTheStreamedFileEqualsTheOneInMemory) {
  const Tokenizer tok((testing::shared_dir() / "gemma" / "tokenizer.model").string());
  const PairEncoder enc(tok, 512);
  for (const char* name : {"lmsys-arena-train-head1000.csv", "autoj-pairwise.jsonl", "hh-rlhf-helpful-base-test.jsonl.gz"}) {
    const auto path = (testing::shared_dir() / "data" / name).string();
    ReadOptions o;
    o.require_labels = false;
    const auto data = read_pairs(path, o);
    const auto a = summarize(data, enc, 3, 2), b = summarize_file(path, o, enc, 3, 2);
    EXPECT_GT(a.used, 0) << name;
    EXPECT_EQ(a.used, b.used) << name;
    EXPECT_EQ(a.read.report.rows_read, b.read.report.rows_read) << name;
    EXPECT_EQ(a.read.report.skipped, b.read.report.skipped) << name;
    EXPECT_EQ(a.labels, b.labels) << name;
    EXPECT_EQ(a.split, b.split) << name;
    EXPECT_EQ(a.tokens, b.tokens) << name;
    EXPECT_EQ(a.p50, b.p50) << name;
    EXPECT_EQ(a.p99, b.p99) << name;
    EXPECT_EQ(a.max, b.max) << name;
  }
}

}  // namespace
}  // namespace arena
