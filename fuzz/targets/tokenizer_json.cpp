// A Hugging Face tokenizer.json (exporters/tokenizers/tokenizer_json.h parse_tokenizer_json), then a
// fixed text encoded with and without special tokens and decoded back: a hostile vocabulary or merge
// list must not break the BPE engine either.
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include "exporters/tokenizers/tokenizer_json.h"
#include "fuzz/fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  namespace tk = qforge::exporters::tokenizers;
  const char* source = "fuzz-input/tokenizer.json";
  const char* text = "Hello world,  he said: <s> caf\xC3\xA9 \xE2\x96\x81x 42\n\xF0\x9F\x98\x80!";
  qforge::fuzz::expect_clean(source, [&] {
    const tk::BpeTokenizer tokenizer = tk::parse_tokenizer_json(std::string_view(reinterpret_cast<const char*>(data), size), source);
    qforge::fuzz::expect_usable(source, [&] {
      tokenizer.decode(tokenizer.encode(text, true));
      tokenizer.decode(tokenizer.encode(text, false), true);
    });
  });
  return 0;
}
