#include "data/split.h"

namespace arena {

const char* split_name(Split s) {
  switch (s) {
    case Split::kTrain: return "train";
    case Split::kVal: return "val";
    default: return "test";
  }
}

double id_uniform(const std::string& id, uint64_t seed) {
  uint64_t h = 1469598103934665603ULL;
  for (int i = 0; i < 8; ++i) h = (h ^ ((seed >> (8 * i)) & 0xff)) * 1099511628211ULL;
  for (unsigned char c : id) h = (h ^ c) * 1099511628211ULL;
  // FNV's low bits mix poorly; finish with a 64-bit avalanche (splitmix64's finalizer).
  h ^= h >> 30;
  h *= 0xbf58476d1ce4e5b9ULL;
  h ^= h >> 27;
  h *= 0x94d049bb133111ebULL;
  h ^= h >> 31;
  return static_cast<double>(h >> 11) * (1.0 / 9007199254740992.0);
}

Split split_of(const std::string& id, uint64_t seed, const SplitFractions& f) {
  const double u = id_uniform(id, seed);
  if (u < f.train) return Split::kTrain;
  if (u < f.train + f.val) return Split::kVal;
  return Split::kTest;
}

}  // namespace arena
