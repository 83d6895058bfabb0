// llama.cpp's legacy importance matrix (.dat; exporters/gguf/legacy_imatrix.h parse_legacy_imatrix)
// and the per-column importance llama-quantize computes from it.
#include <cstddef>
#include <cstdint>

#include "exporters/gguf/legacy_imatrix.h"
#include "fuzz/fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace gg = qforge::exporters::gguf;
  const char* source = "fuzz-input.imatrix.dat";
  qforge::fuzz::expect_clean(source, [&] {
    gg::legacy_imatrix_importance(gg::parse_legacy_imatrix({reinterpret_cast<const std::byte*>(data), size}, source));
  });
  return 0;
}
