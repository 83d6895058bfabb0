// A llama.cpp model GGUF turned into a qforge Llama (`--gguf FILE` of eval, probs, generate, QLoRA bases):
// exporters/gguf/llama_gguf_import.h reads the llama.* metadata, builds the model and dequantizes
// every tensor into it.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "exporters/gguf/gguf_reader.h"
#include "exporters/gguf/llama_gguf_import.h"
#include "fuzz/fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace gg = qforge::exporters::gguf;
  const char* source = "fuzz-input.gguf";
  const auto* bytes = reinterpret_cast<const std::byte*>(data);
  qforge::fuzz::expect_clean(source, [&] {
    const gg::GgufReader reader(std::vector<std::byte>(bytes, bytes + size), source);
    gg::read_llama_gguf(reader, source);
  });
  return 0;
}
