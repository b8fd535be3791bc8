// The 70/10/20 train/validation/test split, by a seeded hash of the row id: independent of file
// order and of the number of ranks, so runs on 1 or 64 ranks see the same parts.
#pragma once

#include <cstdint>
#include <string>

namespace arena {

enum class Split { kTrain, kVal, kTest };
const char* split_name(Split s);

struct SplitFractions {
  double train = 0.7;
  double val = 0.1;  // test gets the rest
};

// A uniform number in [0, 1) from (seed, id): FNV-1a 64 then the top 53 bits.
double id_uniform(const std::string& id, uint64_t seed);
Split split_of(const std::string& id, uint64_t seed, const SplitFractions& fractions = {});

}  // namespace arena
