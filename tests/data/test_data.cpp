// Input formats, template + truncation and the split, on the real files in ../shared/data.
#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <set>
#include <string>

#include "common/error.h"
#include "data/csv.h"
#include "data/encode.h"
#include "data/reader.h"
#include "data/split.h"
#include "data/tokenizer.h"
#include "test_support.h"

namespace arena {
namespace {

std::string data_file(const std::string& name) { return (testing::shared_dir() / "data" / name).string(); }

const Tokenizer& gemma() {
  static Tokenizer tok((testing::shared_dir() / "gemma" / "tokenizer.model").string());
  return tok;
}

void write(const std::string& path, const std::string& text) {
  std::ofstream out(path, std::ios::binary);
  out << text;
}

// ------------------------------------------------------------------------------ formats

TEST(Reader, LmsysSampleCsvReadsEveryRowWithTurnsAndLabels) {
  const auto path = data_file("lmsys-arena-train-sample.csv");
  EXPECT_EQ(detect_data_format(path), DataFormat::kLmsys);
  const auto d = read_pairs(path, {});
  EXPECT_EQ(d.report.rows_read, 60);
  EXPECT_EQ(d.report.skipped_total(), 0);
  ASSERT_EQ(d.pairs.size(), 60u);
  // Row 1 (id 30192) is a two-turn conversation won by model_a.
  EXPECT_EQ(d.pairs[0].id, "30192");
  ASSERT_EQ(d.pairs[0].prompt.size(), 2u);
  EXPECT_EQ(d.pairs[0].prompt[1], "OK, does pineapple belong on a pizza? Relax and give me fun answer.");
  EXPECT_EQ(d.pairs[0].label, kLabelA);
  std::map<int, int> labels;
  for (const auto& p : d.pairs) ++labels[p.label];
  EXPECT_EQ(labels.size(), 3u);  // the sample holds a, b and tie
}

TEST(Reader, WsdmJsonlReadsAutoJAndCountsTiesDroppedInBinaryMode) {
  const auto path = data_file("autoj-pairwise.jsonl");
  EXPECT_EQ(detect_data_format(path), DataFormat::kWsdm);
  const auto three = read_pairs(path, {});
  EXPECT_EQ(three.report.rows_read, 1392);
  EXPECT_EQ(three.pairs.size(), 1392u);
  std::map<int, int> labels;
  for (const auto& p : three.pairs) ++labels[p.label];
  EXPECT_EQ(labels[kLabelA], 520);
  EXPECT_EQ(labels[kLabelB], 499);
  EXPECT_EQ(labels[kLabelTie], 373);
  ReadOptions binary;
  binary.labels = LabelMode::kBinary;
  const auto two = read_pairs(path, binary);
  EXPECT_EQ(two.pairs.size(), 1019u);
  EXPECT_EQ(two.report.skipped.at("tie dropped (binary labels)"), 373);
}

TEST(Reader, BadRowsAreCountedWithFileLineIdAndReason) {
  testing::TempDir dir;
  const auto path = dir / "rows.jsonl";
  write(path, R"({"id": "ok1", "prompt": "p", "response_a": "a", "response_b": "b", "winner": "model_b"}
{"id": "badjson", "prompt": 
{"id": "nowinner", "prompt": "p", "response_a": "a", "response_b": "b", "winner": "model_c"}
{"id": 7, "prompt": "p", "response_b": "b", "winner": "model_a"}

{"id": "ok2", "prompt": ["t1", "t2"], "response_a": ["a1", "a2"], "response_b": ["b1", "b2"], "winner": "tie"}
)");
  const auto d = read_pairs(path, {DataFormat::kWsdm, LabelMode::kThreeClass, 0, true});
  EXPECT_EQ(d.report.rows_read, 5);
  ASSERT_EQ(d.pairs.size(), 2u);
  EXPECT_EQ(d.pairs[1].prompt.size(), 2u);
  EXPECT_EQ(d.report.skipped.at("not valid JSON"), 1);
  EXPECT_EQ(d.report.skipped.at("unknown winner value"), 1);
  EXPECT_EQ(d.report.skipped.at("missing or non-text field 'response_a'"), 1);
  ASSERT_EQ(d.report.examples.size(), 3u);
  EXPECT_EQ(d.report.examples[0].line, 2);
  EXPECT_EQ(d.report.examples[1].id, "nowinner");
  EXPECT_EQ(d.report.examples[2].id, "7");
  EXPECT_EQ(d.report.examples[2].file, path);
}

TEST(Reader, LmsysCsvWithQuotesNewlinesNullTurnsAndBadRows) {
  testing::TempDir dir;
  const auto path = dir / "train.csv";
  write(path,
        "id,model_a,model_b,prompt,response_a,response_b,winner_model_a,winner_model_b,winner_tie\n"
        "1,x,y,\"[\"\"Hi, \\\"\"you\\\"\"\"\"]\",\"[\"\"line1\\nline2\"\"]\",\"[null,\n\"\"x\"\"]\",0,1,0\n"
        "2,x,y,\"not json\",\"[\"\"a\"\"]\",\"[\"\"b\"\"]\",1,0,0\n"
        "3,x,y,\"[\"\"p\"\"]\",\"[\"\"a\"\"]\",\"[\"\"b\"\"]\",1,1,0\n");
  const auto d = read_pairs(path, {});
  EXPECT_EQ(d.report.rows_read, 3);
  ASSERT_EQ(d.pairs.size(), 1u);
  EXPECT_EQ(d.pairs[0].prompt[0], "Hi, \"you\"");
  EXPECT_EQ(d.pairs[0].response_a[0], "line1\nline2");
  EXPECT_EQ(d.pairs[0].response_b[0], "");  // a null turn is an empty answer, not a dropped row
  EXPECT_EQ(d.pairs[0].label, kLabelB);
  EXPECT_EQ(d.report.skipped.at("turn field is not a JSON list of strings"), 1);
  EXPECT_EQ(d.report.skipped.at("winner columns are not one-hot"), 1);
  EXPECT_EQ(d.report.examples[0].line, 4);  // row 1 spans lines 2-3 (a raw newline inside quotes)
  EXPECT_EQ(d.report.examples[1].line, 5);
}

TEST(Reader, MalformedFilesAreErrorsNamingFileAndPosition) {
  testing::TempDir dir;
  const auto csv = dir / "cut.csv";
  write(csv, "id,model_a,model_b,prompt,response_a,response_b,winner_model_a,winner_model_b,winner_tie\n"
             "1,x,y,\"[\"\"never closed");
  try {
    read_pairs(csv, {DataFormat::kLmsys, LabelMode::kThreeClass, 0, true});
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(csv + ":2"), std::string::npos) << e.what();
  }
  const auto nocol = dir / "nocol.csv";
  write(nocol, "id,text\n1,hello\n");
  EXPECT_THROW(read_pairs(nocol, {DataFormat::kLmsys, LabelMode::kThreeClass, 0, true}), Error);
  // A column named twice (found by fuzz_csv: the count check and the lookups disagreed, and a row
  // with as many fields as distinct names was read past its last field).
  const auto twice = dir / "twice.csv";
  write(twice, "id,prompt,response_a,response_b,prompt\n1,a,b,c\n");
  try {
    read_pairs(twice, {DataFormat::kLmsys, LabelMode::kThreeClass, 0, false});
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(twice + ": header names column 'prompt' twice"), std::string::npos)
        << e.what();
  }
  EXPECT_THROW(read_pairs(dir / "absent.jsonl", {}), Error);
  write(dir / "x.parquet", "PAR1");
  try {
    read_pairs(dir / "x.parquet", {});
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(dir / "x.parquet"), std::string::npos) << e.what();
  }
  // A footer whose second row group claims -3,087,007,686 rows (found by fuzzing): Arrow threw
  // std::length_error past our reader, which ended the process. It is an error naming the file.
  const auto damaged = (testing::source_dir() / "tests/fuzz/regressions/parquet/length-error-in-arrow.parquet").string();
  try {
    read_pairs(damaged, {});
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find(damaged + ": damaged Parquet footer: row group 1 has -3087007686 rows"),
              std::string::npos)
        << e.what();
  }
}

TEST(Reader, WsdmParquetAcrossRowGroupsWithBadRows) {
  // 43 rows in row groups of 16 (tests/fixtures/gen_data_fixtures.py).
  const auto path = (testing::fixture_dir() / "data" / "wsdm-sample.parquet").string();
  EXPECT_EQ(detect_data_format(path), DataFormat::kParquet);
  ReadOptions binary;
  binary.labels = LabelMode::kBinary;
  const auto d = read_pairs(path, binary);
  EXPECT_EQ(d.report.rows_read, 43);
  EXPECT_EQ(d.report.skipped.at("missing or null field 'prompt'"), 1);
  EXPECT_EQ(d.report.skipped.at("unknown winner value"), 1);
  EXPECT_GE(d.report.skipped.at("tie dropped (binary labels)"), 1);
  const auto jsonl = read_pairs(data_file("autoj-pairwise.jsonl"), binary);
  // The Parquet rows are the first 40 JSONL rows: same pairs in the same order.
  size_t k = 0;
  for (const auto& p : jsonl.pairs) {
    if (k == d.pairs.size() || p.id != d.pairs[k].id) continue;
    EXPECT_EQ(p.prompt, d.pairs[k].prompt);
    EXPECT_EQ(p.response_b, d.pairs[k].response_b);
    EXPECT_EQ(p.label, d.pairs[k].label);
    ++k;
  }
  EXPECT_EQ(k, d.pairs.size());
  bool found = false;
  for (const auto& r : d.report.examples) {
    if (r.id != "bad-null-prompt") continue;
    EXPECT_EQ(r.line, 41);  // rows numbered from 1: the 41st row
    EXPECT_EQ(r.file, path);
    found = true;
  }
  EXPECT_TRUE(found);
  EXPECT_EQ(d.report.examples.back().id, "a-tie");
}

TEST(Reader, PairwiseHhAndTrlBecomeSeededSwappedPairs) {
  testing::TempDir dir;
  const auto path = dir / "hh.jsonl";
  std::string lines;
  for (int i = 0; i < 200; ++i) {
    lines += fmt::format(
        R"({{"chosen": "\n\nHuman: q{0}\n\nAssistant: a{0}\n\nHuman: follow{0}\n\nAssistant: good{0}", )"
        R"("rejected": "\n\nHuman: q{0}\n\nAssistant: a{0}\n\nHuman: follow{0}\n\nAssistant: bad{0}"}})"
        "\n",
        i);
  }
  lines += R"({"prompt": [{"role": "user", "content": "trl q"}], "chosen": [{"role": "assistant", "content": "yes"}], "rejected": [{"role": "assistant", "content": "no"}]})"
           "\n";
  lines += R"({"chosen": "\n\nHuman: one\n\nAssistant: x", "rejected": "\n\nHuman: other\n\nAssistant: y"})"
           "\n";
  write(path, lines);
  EXPECT_EQ(detect_data_format(path), DataFormat::kPairwise);
  ReadOptions o;
  o.seed = 3;
  const auto d = read_pairs(path, o);
  EXPECT_EQ(d.report.rows_read, 202);
  ASSERT_EQ(d.pairs.size(), 201u);
  EXPECT_EQ(d.report.skipped.at("chosen and rejected differ before the last answer"), 1);
  int b_wins = 0;
  for (const auto& p : d.pairs) {
    const auto& chosen = p.label == kLabelA ? p.response_a : p.response_b;
    const auto& rejected = p.label == kLabelA ? p.response_b : p.response_a;
    if (p.id == "hh.jsonl:201") {
      EXPECT_EQ(p.prompt, std::vector<std::string>{"trl q"});
      EXPECT_EQ(chosen.back(), "yes");
      continue;
    }
    ASSERT_EQ(p.prompt.size(), 2u);
    EXPECT_EQ(chosen.size(), 2u);
    EXPECT_EQ(chosen.front(), rejected.front());            // the shared earlier answer
    EXPECT_EQ(chosen.back().substr(0, 4), "good");          // the label follows the swap
    EXPECT_EQ(rejected.back().substr(0, 3), "bad");
    b_wins += p.label == kLabelB;
  }
  EXPECT_GT(b_wins, 70);  // about half swapped (binomial 200, 1/2: 70..130 is > 4 sigma)
  EXPECT_LT(b_wins, 130);
  ReadOptions other = o;
  other.seed = 4;
  const auto d2 = read_pairs(path, other);
  int differ = 0;
  for (size_t i = 0; i < d.pairs.size(); ++i) differ += d.pairs[i].label != d2.pairs[i].label;
  EXPECT_GT(differ, 0);  // the swap depends on the seed
  EXPECT_EQ(read_pairs(path, o).pairs[5].label, d.pairs[5].label);  // and only on it
}

// ------------------------------------------------------------------------------ truncation

TEST(Truncation, BudgetsFlowUnusedTokensToLongSections) {
  EXPECT_EQ(section_budgets({10, 20, 30}, 100), (std::vector<int64_t>{10, 20, 30}));
  EXPECT_EQ(section_budgets({10, 500, 500}, 100), (std::vector<int64_t>{10, 45, 45}));
  EXPECT_EQ(section_budgets({500, 10, 20}, 100), (std::vector<int64_t>{70, 10, 20}));
  const auto b = section_budgets({1000, 1000, 1000}, 100);
  EXPECT_EQ(b[0] + b[1] + b[2], 100);
}

TEST(Truncation, HeadAndTailAroundTheMarker) {
  std::vector<int32_t> ids(100);
  for (int i = 0; i < 100; ++i) ids[i] = 1000 + i;
  const std::vector<int32_t> marker{7, 8};
  EXPECT_EQ(head_tail(ids, 100, marker), ids);
  const auto cut = head_tail(ids, 12, marker);
  ASSERT_EQ(cut.size(), 12u);
  EXPECT_EQ(std::vector<int32_t>(cut.begin(), cut.begin() + 5), std::vector<int32_t>(ids.begin(), ids.begin() + 5));
  EXPECT_EQ(cut[5], 7);
  EXPECT_EQ(cut[6], 8);
  EXPECT_EQ(std::vector<int32_t>(cut.end() - 5, cut.end()), std::vector<int32_t>(ids.end() - 5, ids.end()));
}

TEST(Truncation, InvariantsOnTheRealData) {
  const auto d = read_pairs(data_file("autoj-pairwise.jsonl"), {});
  for (const int64_t max_len : {64, 256, 1900}) {
    PairEncoder enc(gemma(), max_len);
    int truncated = 0;
    for (size_t i = 0; i < d.pairs.size(); i += 7) {
      const auto e = enc.encode(d.pairs[i]);
      ASSERT_LE(static_cast<int64_t>(e.ids.size()), max_len);
      EXPECT_EQ(e.ids.front(), gemma().bos_id());
      if (e.full_length <= max_len) {
        EXPECT_EQ(static_cast<int64_t>(e.ids.size()), e.full_length);  // nothing cut when it fits
      } else {
        EXPECT_EQ(static_cast<int64_t>(e.ids.size()), max_len);  // a cut pair uses the whole budget
        ++truncated;
      }
      EXPECT_EQ(enc.encode(d.pairs[i]).ids, e.ids);  // deterministic
    }
    if (max_len == 64) EXPECT_GT(truncated, 0);
  }
}

TEST(Truncation, KeepsTheStartAndEndOfEachSection) {
  PairEncoder enc(gemma(), 96);
  Pair p;
  p.id = "x";
  std::string long_text;
  for (int i = 0; i < 200; ++i) long_text += fmt::format("word{} ", i);
  p.prompt = {"FIRSTPROMPT " + long_text + " LASTPROMPT"};
  p.response_a = {"short answer"};
  p.response_b = {"BEGINB " + long_text + " ENDB"};
  p.label = kLabelA;
  const auto e = enc.encode(p);
  std::vector<int> ids(e.ids.begin(), e.ids.end());
  const auto text = gemma().decode(ids);
  for (const char* s : {"FIRSTPROMPT", "LASTPROMPT", "short answer", "BEGINB", "ENDB", "[...]", "# Response A",
                        "# Which response is better?"})
    EXPECT_NE(text.find(s), std::string::npos) << s << " missing from: " << text;
  const auto swapped = enc.encode(p, /*swap_ab=*/true);
  EXPECT_EQ(swapped.label, kLabelB);
  EXPECT_NE(swapped.ids, e.ids);
}

// show_lengths: the headings state each answer's full token count, the budget still holds, and
// the default template is unchanged.
TEST(Truncation, ShowLengthsStatesTheFullLengthsWithinTheBudget) {
  Pair p;
  p.id = "x";
  std::string long_text;
  for (int i = 0; i < 300; ++i) long_text += fmt::format("word{} ", i);
  p.prompt = {"Which is better?"};
  p.response_a = {"short answer"};
  p.response_b = {long_text};
  p.label = kLabelB;
  const PairEncoder plain(gemma(), 128), with(gemma(), 128, /*show_lengths=*/true);
  const auto e = with.encode(p);
  ASSERT_LE(static_cast<int64_t>(e.ids.size()), 128);
  EXPECT_EQ(static_cast<int64_t>(e.ids.size()), 128);  // a cut pair still uses the whole budget
  const auto text = gemma().decode(std::vector<int>(e.ids.begin(), e.ids.end()));
  EXPECT_NE(text.find(fmt::format("# Response A ({} tokens)", e.tokens_a)), std::string::npos) << text;
  EXPECT_NE(text.find(fmt::format("# Response B ({} tokens)", e.tokens_b)), std::string::npos) << text;
  EXPECT_GT(e.tokens_b, 128);
  EXPECT_NE(plain.fingerprint(), with.fingerprint());
  const auto d = plain.encode(p);
  const auto plain_text = gemma().decode(std::vector<int>(d.ids.begin(), d.ids.end()));
  EXPECT_EQ(plain_text.find("tokens)"), std::string::npos);
  // Swapped: the notes follow their answers.
  const auto s = with.encode(p, /*swap_ab=*/true);
  const auto swapped = gemma().decode(std::vector<int>(s.ids.begin(), s.ids.end()));
  EXPECT_NE(swapped.find(fmt::format("# Response B ({} tokens)", e.tokens_a)), std::string::npos) << swapped;
}

// ------------------------------------------------------------------------------ split

TEST(Split, DisjointProportionalAndIndependentOfOrder) {
  std::map<Split, int> count;
  std::set<std::string> seen[3];
  const int n = 20000;
  for (int i = 0; i < n; ++i) {
    const auto id = std::to_string(i * 7919 + 13);
    const auto s = split_of(id, 42);
    ++count[s];
    seen[static_cast<int>(s)].insert(id);
    EXPECT_EQ(split_of(id, 42), s);  // a function of (seed, id) only
  }
  // Binomial standard deviation at n = 20000 is <= 0.0035: 0.015 is over 4 sigma.
  EXPECT_NEAR(count[Split::kTrain] / double(n), 0.7, 0.015);
  EXPECT_NEAR(count[Split::kVal] / double(n), 0.1, 0.015);
  EXPECT_NEAR(count[Split::kTest] / double(n), 0.2, 0.015);
  for (int a = 0; a < 3; ++a)
    for (int b = a + 1; b < 3; ++b)
      for (const auto& id : seen[a]) ASSERT_EQ(seen[b].count(id), 0u);
  int moved = 0;
  for (int i = 0; i < 1000; ++i) moved += split_of(std::to_string(i), 1) != split_of(std::to_string(i), 2);
  EXPECT_GT(moved, 100);  // the seed matters
}

}  // namespace
}  // namespace arena
