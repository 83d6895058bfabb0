// A GGUF importance matrix (exporters/gguf/imatrix_file.h parse_gguf_imatrix) as `--imatrix` uses it:
// the per-column importance llama-quantize would compute, and its conversion to the legacy format.
#include <cstddef>
#include <cstdint>

#include "exporters/gguf/imatrix_file.h"
#include "fuzz/fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace gg = qforge::exporters::gguf;
  const char* source = "fuzz-input.imatrix.gguf";
  qforge::fuzz::expect_clean(source, [&] {
    const gg::Imatrix imatrix = gg::parse_gguf_imatrix({reinterpret_cast<const std::byte*>(data), size}, source);
    // These two know the entries, not the file: their refusals name the entry.
    qforge::fuzz::expect_usable(source, [&] { gg::gguf_imatrix_importance(imatrix); });
    qforge::fuzz::expect_usable(source, [&] { gg::serialize_legacy_imatrix(gg::to_legacy_imatrix(imatrix)); });
  });
  return 0;
}
