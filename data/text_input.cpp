#include "data/text_input.h"

#include <zlib.h>

#include <algorithm>
#include <cctype>

#include "common/error.h"

namespace arena {
namespace {

constexpr size_t kBlock = size_t{1} << 16;

bool gzip_magic(const char* p) {
  return static_cast<unsigned char>(p[0]) == 0x1f && static_cast<unsigned char>(p[1]) == 0x8b;
}

}  // namespace

struct TextInput::Inflater {
  z_stream z{};
  Inflater() {
    // 15 + 16: a gzip wrapper (header, CRC-32 and length checked by zlib), 32 KiB window.
    check(inflateInit2(&z, 15 + 16) == Z_OK, "zlib: inflateInit2 failed");
  }
  ~Inflater() { inflateEnd(&z); }
};

bool has_gz_suffix(const std::string& path) {
  if (path.size() < 3) return false;
  std::string tail = path.substr(path.size() - 3);
  std::transform(tail.begin(), tail.end(), tail.begin(), [](unsigned char c) { return std::tolower(c); });
  return tail == ".gz";
}

std::string without_gz_suffix(const std::string& path) {
  return has_gz_suffix(path) ? path.substr(0, path.size() - 3) : path;
}

TextInput::TextInput(const std::string& path) : path_(path), file_(path, std::ios::binary) {
  check(file_.good(), "{}: cannot open data file", path);
  refill_input();
  if (in_.size() >= 2 && gzip_magic(in_.data())) z_ = std::make_unique<Inflater>();
}

TextInput::~TextInput() = default;

bool TextInput::refill_input() {
  in_start_ += in_.size();
  in_.resize(kBlock);
  file_.read(in_.data(), static_cast<std::streamsize>(in_.size()));
  in_.resize(static_cast<size_t>(file_.gcount()));
  check(!file_.bad(), "{}: read error at byte {}", path_, in_start_);
  return !in_.empty();
}

bool TextInput::fill() {
  if (eof_) return false;
  if (z_) return fill_gzip();
  if (in_.empty() && !refill_input()) {
    eof_ = true;
    return false;
  }
  buf_ += in_;
  in_start_ += in_.size();
  in_.clear();
  return true;
}

// Inflates into the next block of buf_. The one zlib error path: every failure names the file,
// zlib's reason (or truncation) and the compressed byte offset reached.
bool TextInput::fill_gzip() {
  z_stream& z = z_->z;
  const auto offset = [&] { return in_start_ + (in_.size() - z.avail_in); };
  if (z.next_in == nullptr) {
    z.next_in = reinterpret_cast<Bytef*>(in_.data());
    z.avail_in = static_cast<uInt>(in_.size());
  }
  const size_t old = buf_.size();
  buf_.resize(old + kBlock);
  z.next_out = reinterpret_cast<Bytef*>(buf_.data() + old);
  z.avail_out = static_cast<uInt>(kBlock);
  while (z.avail_out > 0) {
    if (z.avail_in == 0) {
      if (!refill_input()) {
        // The file ended inside a member (a member that ended is handled below).
        throw Error(fmt::format("{}: gzip stream ends early at compressed byte {} (truncated file?)", path_,
                                in_start_));
      }
      z.next_in = reinterpret_cast<Bytef*>(in_.data());
      z.avail_in = static_cast<uInt>(in_.size());
    }
    const int ret = inflate(&z, Z_NO_FLUSH);
    if (ret == Z_STREAM_END) {
      // Another member may follow (concatenated gzip files); anything else is damage.
      if (z.avail_in == 0 && refill_input()) {
        z.next_in = reinterpret_cast<Bytef*>(in_.data());
        z.avail_in = static_cast<uInt>(in_.size());
      }
      if (z.avail_in == 0) {
        eof_ = true;
        break;
      }
      if (z.avail_in == 1) {  // the next member's magic may straddle two reads
        const char tail = static_cast<char>(*z.next_in);
        const uint64_t tail_at = offset();
        refill_input();
        in_.insert(in_.begin(), tail);
        in_start_ = tail_at;
        z.next_in = reinterpret_cast<Bytef*>(in_.data());
        z.avail_in = static_cast<uInt>(in_.size());
      }
      check(z.avail_in >= 2 && gzip_magic(reinterpret_cast<const char*>(z.next_in)),
            "{}: unexpected bytes after the gzip stream at byte {}", path_, offset());
      check(inflateReset(&z) == Z_OK, "{}: zlib: inflateReset failed", path_);
      continue;
    }
    if (ret != Z_OK && ret != Z_BUF_ERROR) {
      throw Error(fmt::format("{}: gzip stream is damaged at compressed byte {}: {}", path_, offset(),
                              z.msg != nullptr ? z.msg : zError(ret)));
    }
  }
  buf_.resize(buf_.size() - z.avail_out);
  return buf_.size() > old || !eof_;
}

bool TextInput::read_line(std::string& line) {
  size_t scanned = pos_;
  while (true) {
    const size_t nl = buf_.find('\n', scanned);
    if (nl != std::string::npos) {
      line.assign(buf_, pos_, nl - pos_);
      pos_ = nl + 1;
      line_ended_ = true;
      return true;
    }
    if (pos_ > 0) {  // keep only the unread tail before reading more
      buf_.erase(0, pos_);
      pos_ = 0;
    }
    scanned = buf_.size();
    if (!fill()) {
      if (buf_.empty()) return false;
      line = std::move(buf_);
      buf_.clear();
      line_ended_ = false;
      return true;
    }
  }
}

std::string TextInput::read_all() {
  while (fill()) {
  }
  buf_.erase(0, pos_);  // no second copy of the whole text
  pos_ = 0;
  std::string out = std::move(buf_);
  buf_.clear();
  return out;
}

std::string TextInput::read_some(size_t n) {
  while (buf_.size() - pos_ < n && fill()) {
  }
  const size_t take = std::min(n, buf_.size() - pos_);
  std::string out = buf_.substr(pos_, take);
  pos_ += take;
  return out;
}

}  // namespace arena
