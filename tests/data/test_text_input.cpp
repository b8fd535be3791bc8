// Gzip-compressed data files read as they come (data/text_input.h): the same lines as the plain
// file, concatenated members, a truncated or damaged stream named with its offset, and the real
// HH-RLHF .jsonl.gz files through the pair reader.
#include <gtest/gtest.h>
#include <zlib.h>

#include <fstream>
#include <string>
#include <vector>

#include "common/error.h"
#include "data/reader.h"
#include "data/text_input.h"
#include "test_support.h"

namespace arena {
namespace {

std::string gzip(const std::string& text) {
  z_stream z{};
  EXPECT_EQ(deflateInit2(&z, 6, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY), Z_OK);  // +16: gzip wrapper
  std::string out(deflateBound(&z, text.size()) + 64, '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(text.data()));
  z.avail_in = static_cast<uInt>(text.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  EXPECT_EQ(deflate(&z, Z_FINISH), Z_STREAM_END);
  out.resize(z.total_out);
  deflateEnd(&z);
  return out;
}

void write(const std::string& path, const std::string& bytes) {
  std::ofstream(path, std::ios::binary) << bytes;
}

std::vector<std::string> lines_of(const std::string& path) {
  TextInput in(path);
  std::vector<std::string> lines;
  std::string line;
  while (in.read_line(line)) lines.push_back(line);
  return lines;
}

// Enough text to span several 64 KiB blocks, with empty lines, CR and no final newline.
std::string sample_text() {
  std::string s;
  for (int i = 0; i < 20000; ++i) s += "{\"id\": " + std::to_string(i) + ", \"text\": \"line " + std::to_string(i * 7) + "\"}\r\n";
  s += "\n\nlast line without newline";
  return s;
}

TEST(TextInput, GzipGivesTheSameLinesAsThePlainFile) {
  testing::TempDir dir;
  const auto text = sample_text();
  write((dir.path() / "a.jsonl").string(), text);
  write((dir.path() / "a.jsonl.gz").string(), gzip(text));
  const auto plain = lines_of((dir.path() / "a.jsonl").string());
  EXPECT_EQ(plain.size(), 20003u);
  EXPECT_EQ(plain.back(), "last line without newline");
  EXPECT_EQ(plain.front().back(), '\r');
  EXPECT_EQ(lines_of((dir.path() / "a.jsonl.gz").string()), plain);
  EXPECT_EQ(TextInput((dir.path() / "a.jsonl.gz").string()).read_all(), text);
  TextInput some((dir.path() / "a.jsonl.gz").string());
  EXPECT_EQ(some.read_some(100000), text.substr(0, 100000));
}

TEST(TextInput, ConcatenatedMembersReadAsOneText) {
  testing::TempDir dir;
  const auto path = (dir.path() / "two.csv.gz").string();
  write(path, gzip("a,b\n1,2\n") + gzip("3,4\n"));
  EXPECT_EQ(TextInput(path).read_all(), "a,b\n1,2\n3,4\n");
  write(path, gzip("a,b\n") + "junk after the stream");
  try {
    TextInput(path).read_all();
    FAIL() << "trailing bytes must be an error";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("unexpected bytes after the gzip stream"), std::string::npos) << e.what();
  }
}

void expect_error(const std::string& path, const std::string& needle) {
  try {
    TextInput in(path);
    in.read_all();
    FAIL() << "expected an error containing '" << needle << "'";
  } catch (const Error& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find(path), std::string::npos) << what;
    EXPECT_NE(what.find(needle), std::string::npos) << what;
  }
}

TEST(TextInput, TruncatedStreamIsAnErrorAtEveryCut) {
  testing::TempDir dir;
  const auto gz = gzip(sample_text());
  const auto path = (dir.path() / "cut.jsonl.gz").string();
  // Every cut after the 10-byte header loses data or the trailer's checksum: an error, never a
  // shorter text read as complete.
  for (size_t cut = 10; cut < gz.size(); cut += 97) {
    write(path, gz.substr(0, cut));
    SCOPED_TRACE("cut at " + std::to_string(cut) + " of " + std::to_string(gz.size()));
    expect_error(path, "at compressed byte");
  }
  write(path, gz.substr(0, gz.size() - 3));
  expect_error(path, "ends early");
}

TEST(TextInput, DamagedStreamIsAnError) {
  testing::TempDir dir;
  const auto gz = gzip(sample_text());
  const auto path = (dir.path() / "bad.jsonl.gz").string();
  for (const size_t at : {gz.size() / 3, gz.size() / 2, gz.size() - 6}) {
    auto bad = gz;
    bad[at] = static_cast<char>(bad[at] ^ 0x5a);
    write(path, bad);
    expect_error(path, "gzip stream is damaged at compressed byte");
  }
}

TEST(TextInput, MissingFileIsNamed) { expect_error("/nonexistent/data.jsonl.gz", "cannot open data file"); }

TEST(TextInput, RealHhRlhfFilesReadCompressed) {
  const auto dir = testing::shared_dir() / "data";
  const std::pair<const char*, int64_t> files[] = {{"hh-rlhf-helpful-base-test.jsonl.gz", 2354},
                                                   {"hh-rlhf-helpful-online-test.jsonl.gz", 1137},
                                                   {"hh-rlhf-helpful-rejection-sampled-test.jsonl.gz", 2749}};
  for (const auto& [name, rows] : files) {
    const auto path = (dir / name).string();
    EXPECT_EQ(detect_data_format(path), DataFormat::kPairwise) << name;
    ReadOptions o;
    o.labels = LabelMode::kBinary;
    const auto data = read_pairs(path, o);
    EXPECT_EQ(data.report.rows_read, rows) << name;
    EXPECT_EQ(static_cast<int64_t>(data.pairs.size()) + data.report.skipped_total(), rows) << name;
  }
}

}  // namespace
}  // namespace arena
