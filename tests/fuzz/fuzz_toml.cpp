// The TOML config (launch/train_config.cpp): load_toml_text into a TrainConfig, validate(), and
// when it validates, the resolved config written back with to_toml() must load again.
#include <cstddef>
#include <cstdint>
#include <string>

#include "common/error.h"
#include "launch/train_config.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace arena;
  TrainConfig c;
  try {
    load_toml_text(c, std::string(reinterpret_cast<const char*>(data), size), "fuzz.toml");
    validate(c);
  } catch (const Error&) {
    return 0;
  }
  const std::string text = to_toml(c);
  TrainConfig again;
  load_toml_text(again, text, "fuzz.toml (written back)");  // must not throw: a finding if it does
  return 0;
}
