// The HDF5 training checkpoint reader (launch/checkpoint.cpp, read_checkpoint): attributes, the
// trainable/optimizer tensor groups, the scheduler and the RNG states, through Debian's libhdf5
// (not instrumented: ASan/UBSan watch our code and what HDF5 hands back to it). Every byte is
// checksummed (docs/checkpoint-format.md), so most mutations end at HDF5's checksum checks.
#include <torch/types.h>

#include <cstddef>
#include <cstdint>

#include "common/error.h"
#include "launch/checkpoint.h"
#include "tests/fuzz/fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace arena;
  const auto& path = fuzz::scratch_path(".h5");
  fuzz::write_file(path, data, size);
  try {
    const Checkpoint c = read_checkpoint(path);
    double sum = static_cast<double>(c.rng.numel()) + static_cast<double>(c.config_toml.size());
    for (const auto* group : {&c.trainable, &c.exp_avg, &c.exp_avg_sq})
      for (const auto& [name, t] : *group) sum += t.sum().item<double>();
    (void)sum;
  } catch (const Error&) {
  }
  return 0;
}
