// Word -> token ids, for the tokenizer's word-by-word encoding: an open-addressing table whose
// keys and ids live in two flat buffers, so a lookup allocates nothing.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace arena {

class WordCache {
 public:
  struct Ids {
    const int* data;
    size_t size;
  };

  // The ids cached for `word`, or {nullptr, 0} when absent.
  Ids find(std::string_view word, uint64_t hash) const;
  // Caches `ids` for `word` (absent) and returns the cached copy.
  Ids insert(std::string_view word, uint64_t hash, const std::vector<int>& ids);
  size_t size() const { return size_; }
  size_t key_bytes() const { return keys_.size(); }
  void clear();

 private:
  struct Slot {
    uint64_t hash = 0;
    uint32_t key_offset = 0, key_length = 0;
    uint32_t ids_offset = 0, ids_length = 0;
    bool used = false;
  };
  void grow();

  std::vector<Slot> slots_;
  std::string keys_;
  std::vector<int> ids_;
  size_t size_ = 0;
};

}  // namespace arena
