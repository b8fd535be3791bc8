#include "data/word_cache.h"

namespace arena {

WordCache::Ids WordCache::find(std::string_view word, uint64_t hash) const {
  if (slots_.empty()) return {nullptr, 0};
  const size_t mask = slots_.size() - 1;
  for (size_t i = hash & mask;; i = (i + 1) & mask) {
    const Slot& s = slots_[i];
    if (!s.used) return {nullptr, 0};
    if (s.hash == hash && s.key_length == word.size() && keys_.compare(s.key_offset, s.key_length, word) == 0)
      return {ids_.data() + s.ids_offset, s.ids_length};
  }
}

WordCache::Ids WordCache::insert(std::string_view word, uint64_t hash, const std::vector<int>& ids) {
  if (2 * (size_ + 1) > slots_.size()) grow();
  const size_t mask = slots_.size() - 1;
  size_t i = hash & mask;
  while (slots_[i].used) i = (i + 1) & mask;
  Slot& s = slots_[i];
  s = {hash, static_cast<uint32_t>(keys_.size()), static_cast<uint32_t>(word.size()),
       static_cast<uint32_t>(ids_.size()), static_cast<uint32_t>(ids.size()), true};
  keys_.append(word);
  ids_.insert(ids_.end(), ids.begin(), ids.end());
  ++size_;
  return {ids_.data() + s.ids_offset, s.ids_length};
}

void WordCache::grow() {
  std::vector<Slot> old(std::max<size_t>(1024, 2 * slots_.size()));
  old.swap(slots_);
  const size_t mask = slots_.size() - 1;
  for (const Slot& s : old) {
    if (!s.used) continue;
    size_t i = s.hash & mask;
    while (slots_[i].used) i = (i + 1) & mask;
    slots_[i] = s;
  }
}

void WordCache::clear() {
  slots_.clear();
  keys_.clear();
  ids_.clear();
  size_ = 0;
}

}  // namespace arena
