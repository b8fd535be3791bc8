// Reading a data file as text, gzip-compressed or not: `.jsonl.gz` and `.csv.gz` are read as they
// come (HH-RLHF is distributed that way), streaming through zlib, with no temporary copy on disk.
// A file without the gzip magic (1f 8b) is read as it is. Concatenated gzip members are read one
// after the other, as gzip does; anything else after a member is an error.
//
// Errors (arena::Error) name the file and, for a damaged stream, zlib's reason and the compressed
// byte offset where reading stopped:
//   data.jsonl.gz: gzip stream is damaged at compressed byte 4096: invalid distance too far back
//   data.jsonl.gz: gzip stream ends early at compressed byte 812 (truncated file?)
#pragma once

#include <cstddef>
#include <cstdint>
#include <fstream>
#include <memory>
#include <string>

namespace arena {

// Whether `path` ends with ".gz" (any case).
bool has_gz_suffix(const std::string& path);

// `path` without a trailing ".gz": what the format detection looks at ("x.jsonl.gz" -> "x.jsonl").
std::string without_gz_suffix(const std::string& path);

class TextInput {
 public:
  // Opens `path`; throws naming it when it cannot be opened.
  explicit TextInput(const std::string& path);
  ~TextInput();
  TextInput(const TextInput&) = delete;
  TextInput& operator=(const TextInput&) = delete;

  // The next line without its '\n' (a final line without one counts); false at the end.
  bool read_line(std::string& line);
  // Whether the line read last ended with '\n' (false for a final line without one).
  bool line_ended() const { return line_ended_; }
  // Everything not read yet.
  std::string read_all();
  // Up to `n` bytes from the current position (fewer at the end).
  std::string read_some(size_t n);

  const std::string& path() const { return path_; }

 private:
  bool fill();          // appends the next block to buf_; false at the end of the file
  bool fill_gzip();     // the same through inflate
  bool refill_input();  // reads compressed bytes into in_; false at the end of the file

  struct Inflater;  // zlib's z_stream, kept out of this header
  std::string path_;
  std::ifstream file_;
  std::unique_ptr<Inflater> z_;  // null for a plain file
  std::string in_;               // compressed bytes read from the file
  uint64_t in_start_ = 0;        // file offset of in_[0]
  std::string buf_;              // decompressed bytes from pos_ on are not read yet
  size_t pos_ = 0;
  bool eof_ = false;
  bool line_ended_ = false;
};

}  // namespace arena
