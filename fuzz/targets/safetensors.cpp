// A safetensors file read whole (exporters/safetensors/safetensors.h parse_safetensors): the header,
// every offset and shape checked, every tensor decoded to FP32.
#include <cstddef>
#include <cstdint>

#include "exporters/safetensors/safetensors.h"
#include "fuzz/fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const char* source = "fuzz-input.safetensors";
  qforge::fuzz::expect_clean(source, [&] {
    qforge::exporters::safetensors::parse_safetensors({reinterpret_cast<const std::byte*>(data), size}, source);
  });
  return 0;
}
