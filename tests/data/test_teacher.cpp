// Teacher probability files (data/teacher.h): every kind of unusable row is refused with its own
// counted reason naming the file, teachers combine as the weighted mean, and files that cannot be
// used at all are errors naming the file and the column.
#include <gtest/gtest.h>

#include <fstream>

#include "common/error.h"
#include "data/teacher.h"
#include "test_support.h"

namespace arena {
namespace {

std::string write(const testing::TempDir& dir, const std::string& name, const std::string& text) {
  const auto path = dir / name;
  std::ofstream(path) << text;
  return path;
}

TEST(Teacher, CsvRowsAndEveryReason) {
  testing::TempDir dir;
  const auto csv = write(dir, "t.csv",
                         "id,winner_model_a,winner_model_b,extra\n"
                         "a,0.25,0.75,x\n"
                         "b,0.5,0.6,x\n"      // sums to 1.1
                         "c,nan,1,x\n"        // not finite
                         "d,-0.5,1.5,x\n"     // negative
                         "e,high,0.5,x\n"     // not a number
                         "f,1\n"              // too few fields
                         "g,0.3,0.7,x\n"
                         "g,0.4,0.6,x\n"      // duplicate id
                         "h,0.9995,0.0,x\n");  // 5e-4 off: within the tolerance
  const TeacherTargets t({{csv}, {}, {}, 1e-3}, 2);
  std::vector<double> p;
  TeacherProblem why;
  ASSERT_TRUE(t.lookup("a", p, why));
  EXPECT_DOUBLE_EQ(p[0], 0.25);
  EXPECT_DOUBLE_EQ(p[1], 0.75);
  ASSERT_TRUE(t.lookup("h", p, why));
  const std::pair<const char*, const char*> refused[] = {
      {"b", "values do not sum to 1 (tolerance 0.001)"}, {"c", "a value is not finite"},
      {"d", "a value is negative"},  {"e", "winner_model_a is not a number"},
      {"f", "fewer fields than the header"}, {"g", "id given more than once"},
      {"zz", "no row with this id"}};
  for (const auto& [id, reason] : refused) {
    EXPECT_FALSE(t.lookup(id, p, why)) << id;
    EXPECT_EQ(why.reason, "teacher " + csv + ": " + reason) << id;
    EXPECT_EQ(why.file, csv);
  }
  t.lookup("b", p, why);
  EXPECT_EQ(why.line, 3) << "the teacher file's line of the row";
}

TEST(Teacher, WeightedMeanOfJsonlAndCsvTeachers) {
  testing::TempDir dir;
  const auto jsonl = write(dir, "t.jsonl",
                           "{\"id\": 1, \"probs\": [0.2, 0.3, 0.5]}\n"
                           "{\"id\": 2, \"probs\": [0.5, 0.5]}\n"          // arity 2 of 3
                           "{\"id\": 3, \"probs\": [0.5, null, 0.5]}\n");  // null
  const auto csv = write(dir, "u.csv", "id,winner_model_a,winner_model_b,winner_tie\n1,0.6,0.3,0.1\n2,0.2,0.2,0.6\n");
  std::vector<double> p;
  TeacherProblem why;
  const TeacherTargets list_only({{jsonl}, {}, {"probs"}, 1e-3}, 3);
  EXPECT_FALSE(list_only.lookup("2", p, why));
  EXPECT_EQ(why.reason, "teacher " + jsonl + ": 2 values, expected 3");
  EXPECT_FALSE(list_only.lookup("3", p, why));
  EXPECT_EQ(why.reason, "teacher " + jsonl + ": probs is not a number");

  // Default columns for the CSV; the JSONL names its list column: columns apply to every file, so
  // combine two CSV-style teachers instead.
  const auto csv2 = write(dir, "v.csv", "id,winner_model_a,winner_model_b,winner_tie\n1,0.2,0.3,0.5\n");
  const TeacherTargets both({{csv, csv2}, {3.0, 1.0}, {}, 1e-3}, 3);
  ASSERT_TRUE(both.lookup("1", p, why));
  EXPECT_NEAR(p[0], (3 * 0.6 + 0.2) / 4, 1e-12);
  EXPECT_NEAR(p[1], (3 * 0.3 + 0.3) / 4, 1e-12);
  EXPECT_NEAR(p[2], (3 * 0.1 + 0.5) / 4, 1e-12);
  EXPECT_FALSE(both.lookup("2", p, why)) << "a row one teacher lacks is unusable";
  EXPECT_EQ(why.reason, "teacher " + csv2 + ": no row with this id");
}

TEST(Teacher, UnusableFilesAreErrors) {
  testing::TempDir dir;
  const auto no_col = write(dir, "a.csv", "id,winner_model_a\nx,1\n");
  const auto expect_error = [](const TeacherOptions& o, int labels, const std::string& part) {
    try {
      TeacherTargets t(o, labels);
      ADD_FAILURE() << "no error; expected: " << part;
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(part), std::string::npos) << e.what();
    }
  };
  expect_error({{no_col}, {}, {}, 1e-3}, 2, no_col + ": no column 'winner_model_b' in the header");
  expect_error({{dir / "missing.csv"}, {}, {}, 1e-3}, 2, "missing.csv");
  expect_error({{write(dir, "t.txt", "x")}, {}, {}, 1e-3}, 2, "teacher files are .csv, .jsonl or .parquet");
  expect_error({{write(dir, "b.jsonl", "{\"id\": 1, \"winner_model_a\": 1\n")}, {}, {}, 1e-3}, 2,
               "b.jsonl line 1: not valid JSON");
  expect_error({{no_col, no_col}, {1.0}, {}, 1e-3}, 2, "distill.weights: 1 weights for 2 teacher files");
}

}  // namespace
}  // namespace arena
