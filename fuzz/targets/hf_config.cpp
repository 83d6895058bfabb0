// A Hugging Face config.json (exporters/hf/hf_config.h parse_hf_config): architecture, sizes,
// rope_scaling, sliding windows, every key either mapped or refused by name.
#include <cstddef>
#include <cstdint>
#include <string>

#include "exporters/hf/hf_config.h"
#include "fuzz/fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const char* source = "fuzz-input/config.json";
  qforge::fuzz::expect_clean(source, [&] {
    qforge::exporters::hf::parse_hf_config(std::string(reinterpret_cast<const char*>(data), size), source);
  });
  return 0;
}
