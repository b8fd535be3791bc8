// Tokenized pairs cached in one HDF5 file, so a run (or a resumed run) does not tokenize again.
//
// Layout (readable with h5dump / h5py):
//   /ids           int32 [total tokens]   every pair's truncated ids, concatenated
//   /offsets       int64 [n + 1]          pair k is ids[offsets[k] : offsets[k+1]]
//   /full_length   int64 [n]              length before truncation
//   /labels        int32 [n]              0 model_a, 1 model_b, 2 tie, -1 none
//   /row_ids       uint8 [bytes]          the pairs' ids, concatenated; /row_id_offsets int64 [n + 1]
//   attributes on /: version, encoder_fingerprint (tokenizer bytes + template + max_len),
//                    source_size, source_mtime_ns, label_mode, format
// A cache whose attributes do not match the current source file and encoder is stale and rebuilt.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <vector>

#include "data/encode.h"
#include "data/reader.h"

namespace arena {

struct TokenizedData {
  std::vector<int32_t> ids;
  std::vector<int64_t> offsets;  // n + 1
  std::vector<int64_t> full_length;
  std::vector<int64_t> answer_chars;   // 2 per row: A, B (EncodedPair::chars_a/b)
  std::vector<int64_t> answer_tokens;  // 2 per row: A, B (EncodedPair::tokens_a/b)
  std::vector<int32_t> labels;
  std::vector<std::string> row_ids;
  // Soft targets, `target_width` per row (teacher probabilities, train.objective = distill); empty
  // otherwise. Attached after the split (launch/run_data.h), never cached.
  std::vector<float> targets;
  int64_t target_width = 0;
  // Reward models (train.objective = reward): ids/offsets hold each pair's prompt + answer A
  // sequence, ids_b/offsets_b its prompt + answer B (PairEncoder::encode_responses); margins the
  // rows' margins. Empty for the pair classifier. Not cached.
  std::vector<int32_t> ids_b;
  std::vector<int64_t> offsets_b;
  std::vector<float> margins;
  bool has_responses() const { return !offsets_b.empty(); }
  int64_t size() const { return static_cast<int64_t>(labels.size()); }
};

// One pair, as PairEncoder::encode made it, appended to `t` (row id `id`); the streaming path
// (launch/run_data.cpp) builds TokenizedData this way, one record of the file at a time.
void append_pair(TokenizedData& t, const EncodedPair& e, const std::string& id);
// One pair as PairEncoder::encode_responses' two sequences, with its margin; full_length is the
// longer sequence's length before truncation.
void append_responses(TokenizedData& t, const std::pair<EncodedPair, EncodedPair>& e, const std::string& id,
                      double margin);

// Every pair of `data` encoded in order (swap_ab: A and B exchanged, labels following).
TokenizedData tokenize(const Dataset& data, const PairEncoder& encoder, bool swap_ab = false);

struct CacheKey {
  uint64_t encoder_fingerprint = 0;
  uint64_t source_size = 0;
  int64_t source_mtime_ns = 0;
  int32_t label_mode = 0;
  int32_t format = 0;
  bool operator==(const CacheKey& o) const;
};

// The key of `source` read with `options` and encoded by `encoder`.
CacheKey cache_key(const std::string& source, const ReadOptions& options, DataFormat format, const PairEncoder& encoder);

// Writes atomically (temp file + rename). Throws arena::Error naming the file and HDF5's message.
void save_token_cache(const std::string& path, const TokenizedData& data, const CacheKey& key);

// True and fills `out` when `path` exists and its key equals `key`; false when absent or stale.
// A cache that exists but cannot be read is an error naming the file and the dataset.
bool load_token_cache(const std::string& path, const CacheKey& key, TokenizedData& out);

}  // namespace arena
