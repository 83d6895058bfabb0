// GGUF files as `qforge tokenize/probs --gguf` and every GGUF consumer open them: the container
// (exporters/gguf/gguf_reader.h), every tensor's bytes, then the vocabulary the file carries
// (byte-level BPE for tokenizer.ggml.model "gpt2", SentencePiece otherwise; trainers/run_folder.cpp
// set_gguf_tokenizer), encoding and decoding a fixed text with it.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "exporters/gguf/gguf_reader.h"
#include "exporters/gguf/spm_tokenizer.h"
#include "exporters/tokenizers/gguf_bpe.h"
#include "fuzz/fuzz_support.h"

namespace {

namespace gg = qforge::exporters::gguf;
namespace tk = qforge::exporters::tokenizers;

constexpr const char* kSource = "fuzz-input.gguf";
constexpr const char* kText = "Hello world,  he said: <s> caf\xC3\xA9 \xE2\x96\x81x 42\n";

void tokenize(const gg::GgufFile& file) {
  if (tk::gguf_tokenizer_model(file) == "gpt2") {
    const tk::BpeTokenizer bpe = tk::bpe_tokenizer_from_gguf(file, kSource);
    qforge::fuzz::expect_usable(kSource, [&] { bpe.decode(bpe.encode(kText, false)); });
  } else {
    const gg::SpmTokenizer spm = gg::SpmTokenizer::from_gguf(file, kSource);
    qforge::fuzz::expect_usable(kSource, [&] { spm.decode(spm.encode(kText)); });
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const auto* bytes = reinterpret_cast<const std::byte*>(data);
  qforge::fuzz::expect_clean(kSource, [&] {
    const gg::GgufReader reader(std::vector<std::byte>(bytes, bytes + size), kSource);
    for (std::span<const std::byte> tensor : reader.all_tensor_data()) qforge::fuzz::touch(tensor);
    if (reader.file().find("tokenizer.ggml.tokens") != nullptr) tokenize(reader.file());
  });
  return 0;
}
