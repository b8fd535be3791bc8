#include "data/token_cache.h"

#include <algorithm>
#include <filesystem>

#include "common/error.h"
#include "common/h5.h"

namespace arena {
namespace {

constexpr int32_t kVersion = 2;  // 2: answer_chars, answer_tokens

}  // namespace

bool CacheKey::operator==(const CacheKey& o) const {
  return encoder_fingerprint == o.encoder_fingerprint && source_size == o.source_size &&
         source_mtime_ns == o.source_mtime_ns && label_mode == o.label_mode && format == o.format;
}

void append_pair(TokenizedData& t, const EncodedPair& e, const std::string& id) {
  if (t.offsets.empty()) t.offsets.push_back(0);
  t.ids.insert(t.ids.end(), e.ids.begin(), e.ids.end());
  t.offsets.push_back(static_cast<int64_t>(t.ids.size()));
  t.full_length.push_back(e.full_length);
  t.answer_chars.insert(t.answer_chars.end(), {e.chars_a, e.chars_b});
  t.answer_tokens.insert(t.answer_tokens.end(), {e.tokens_a, e.tokens_b});
  t.labels.push_back(e.label);
  t.row_ids.push_back(id);
}

void append_responses(TokenizedData& t, const std::pair<EncodedPair, EncodedPair>& e, const std::string& id,
                      double margin) {
  const auto& [a, b] = e;
  if (t.offsets.empty()) t.offsets.push_back(0);
  if (t.offsets_b.empty()) t.offsets_b.push_back(0);
  t.ids.insert(t.ids.end(), a.ids.begin(), a.ids.end());
  t.offsets.push_back(static_cast<int64_t>(t.ids.size()));
  t.ids_b.insert(t.ids_b.end(), b.ids.begin(), b.ids.end());
  t.offsets_b.push_back(static_cast<int64_t>(t.ids_b.size()));
  t.full_length.push_back(std::max(a.full_length, b.full_length));
  t.answer_chars.insert(t.answer_chars.end(), {a.chars_a, a.chars_b});
  t.answer_tokens.insert(t.answer_tokens.end(), {a.tokens_a, a.tokens_b});
  t.labels.push_back(a.label);
  t.row_ids.push_back(id);
  t.margins.push_back(static_cast<float>(margin));
}

TokenizedData tokenize(const Dataset& data, const PairEncoder& encoder, bool swap_ab) {
  TokenizedData t;
  t.offsets.push_back(0);
  for (const auto& p : data.pairs) append_pair(t, encoder.encode(p, swap_ab), p.id);
  return t;
}

CacheKey cache_key(const std::string& source, const ReadOptions& options, DataFormat format, const PairEncoder& encoder) {
  namespace fs = std::filesystem;
  CacheKey k;
  k.encoder_fingerprint = encoder.fingerprint() ^ options.seed;
  k.source_size = fs::file_size(source);
  k.source_mtime_ns = static_cast<int64_t>(fs::last_write_time(source).time_since_epoch().count());
  k.label_mode = static_cast<int32_t>(options.labels);
  k.format = static_cast<int32_t>(format);
  return k;
}

void save_token_cache(const std::string& path, const TokenizedData& d, const CacheKey& key) {
  h5::quiet();
  const std::string tmp = path + ".tmp";
  {
    h5::Handle file{h5::check(H5Fcreate(tmp.c_str(), H5F_ACC_TRUNC, H5P_DEFAULT, H5P_DEFAULT), "create", tmp), H5Fclose};
    h5::write_vector(file.id(), "ids", d.ids, tmp);
    h5::write_vector(file.id(), "offsets", d.offsets, tmp);
    h5::write_vector(file.id(), "full_length", d.full_length, tmp);
    h5::write_vector(file.id(), "answer_chars", d.answer_chars, tmp);
    h5::write_vector(file.id(), "answer_tokens", d.answer_tokens, tmp);
    h5::write_vector(file.id(), "labels", d.labels, tmp);
    std::vector<uint8_t> bytes;
    std::vector<int64_t> id_offsets{0};
    for (const auto& id : d.row_ids) {
      bytes.insert(bytes.end(), id.begin(), id.end());
      id_offsets.push_back(static_cast<int64_t>(bytes.size()));
    }
    h5::write_vector(file.id(), "row_ids", bytes, tmp);
    h5::write_vector(file.id(), "row_id_offsets", id_offsets, tmp);
    h5::write_attr<int32_t>(file.id(), "version", kVersion, tmp);
    h5::write_attr<int64_t>(file.id(), "encoder_fingerprint", static_cast<int64_t>(key.encoder_fingerprint), tmp);
    h5::write_attr<int64_t>(file.id(), "source_size", static_cast<int64_t>(key.source_size), tmp);
    h5::write_attr<int64_t>(file.id(), "source_mtime_ns", key.source_mtime_ns, tmp);
    h5::write_attr<int32_t>(file.id(), "label_mode", key.label_mode, tmp);
    h5::write_attr<int32_t>(file.id(), "format", key.format, tmp);
  }
  std::filesystem::rename(tmp, path);
}

bool load_token_cache(const std::string& path, const CacheKey& key, TokenizedData& out) {
  if (!std::filesystem::exists(path)) return false;
  h5::quiet();
  h5::Handle file{h5::check(H5Fopen(path.c_str(), H5F_ACC_RDONLY, H5P_DEFAULT), "open (not an HDF5 file?)", path), H5Fclose};
  if (h5::read_attr<int32_t>(file.id(), "version", path) != kVersion) return false;
  CacheKey stored;
  stored.encoder_fingerprint = static_cast<uint64_t>(h5::read_attr<int64_t>(file.id(), "encoder_fingerprint", path));
  stored.source_size = static_cast<uint64_t>(h5::read_attr<int64_t>(file.id(), "source_size", path));
  stored.source_mtime_ns = h5::read_attr<int64_t>(file.id(), "source_mtime_ns", path);
  stored.label_mode = h5::read_attr<int32_t>(file.id(), "label_mode", path);
  stored.format = h5::read_attr<int32_t>(file.id(), "format", path);
  if (!(stored == key)) return false;
  TokenizedData d;
  d.ids = h5::read_vector<int32_t>(file.id(), "ids", path);
  d.offsets = h5::read_vector<int64_t>(file.id(), "offsets", path);
  d.full_length = h5::read_vector<int64_t>(file.id(), "full_length", path);
  d.answer_chars = h5::read_vector<int64_t>(file.id(), "answer_chars", path);
  d.answer_tokens = h5::read_vector<int64_t>(file.id(), "answer_tokens", path);
  d.labels = h5::read_vector<int32_t>(file.id(), "labels", path);
  const auto bytes = h5::read_vector<uint8_t>(file.id(), "row_ids", path);
  const auto id_offsets = h5::read_vector<int64_t>(file.id(), "row_id_offsets", path);
  const size_t n = d.labels.size();
  check(d.offsets.size() == n + 1 && d.full_length.size() == n && id_offsets.size() == n + 1 &&
            d.answer_chars.size() == 2 * n && d.answer_tokens.size() == 2 * n &&
            (n == 0 || (d.offsets.back() == static_cast<int64_t>(d.ids.size()) &&
                        id_offsets.back() == static_cast<int64_t>(bytes.size()))),
        "{}: token cache datasets disagree in size (truncated or corrupt file)", path);
  for (size_t k = 0; k < n; ++k)
    d.row_ids.emplace_back(bytes.begin() + id_offsets[k], bytes.begin() + id_offsets[k + 1]);
  out = std::move(d);
  return true;
}

}  // namespace arena
