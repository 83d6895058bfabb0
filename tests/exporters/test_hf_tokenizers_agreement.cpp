// qforge's BPE against @huggingface/tokenizers (tokenizers.js 0.2.0, tools/hf_tokenizers): llama.cpp's real
// Llama 3, Qwen2 and GPT-2 vocabularies (ggml-vocab-llama-bpe.gguf, -qwen2, -gpt-2; tests/support/
// llamacpp_models.h) are written out as tokenizer.json by qforge, and a corpus of real text is tokenized
// by tokenizers.js from that file and by qforge from the GGUF and from the file read back: identical ids
// for every text. The corpus: every fortune of Debian's fortunes text files (/usr/share/games/fortunes)
// plus texts for what fortunes lack: Unicode scripts, emoji, combining marks, digit runs, whitespace
// runs (tabs, CR LF, Unicode spaces), contractions in capitals and special tokens inside text.
// Skipped with a message when node, tools/hf_tokenizers/node_modules (scripts/setup_node.sh) or the
// llama.cpp files are missing.
#include <gtest/gtest.h>

#include <string>

#include "exporters/gguf/gguf_reader.h"
#include "exporters/tokenizers/gguf_bpe.h"
#include "exporters/tokenizers/sentencepiece_bpe.h"
#include "tests/support/hf_tokenizers_peer.h"
#include "tests/support/llamacpp_models.h"

namespace {

namespace tk = qforge::exporters::tokenizers;
namespace hf_peer = qforge::test::hf_peer;

using Builder = tk::BpeTokenizer (*)(const qforge::exporters::gguf::GgufFile&, const std::string&);

void expect_agreement(const std::string& vocab_name, Builder build = tk::bpe_tokenizer_from_gguf) {
  const std::filesystem::path vocab = qforge::test::LlamaCppModels::get().dir() / vocab_name;
  const qforge::exporters::gguf::GgufReader reader(vocab);
  const std::vector<std::string> texts = hf_peer::corpus();
  hf_peer::expect_agreement(build(reader.file(), vocab.string()), vocab_name, texts);
  EXPECT_GT(texts.size(), 1000u);  // the fortunes are there
}

TEST(HfTokenizersAgreement, Llama3) {
  REQUIRE_LLAMACPP_MODELS();
  expect_agreement("ggml-vocab-llama-bpe.gguf");
}

TEST(HfTokenizersAgreement, Qwen2) {
  REQUIRE_LLAMACPP_MODELS();
  expect_agreement("ggml-vocab-qwen2.gguf");
}

// SentencePiece-style BPE with byte fallback: Llama 2's vocabulary converted as transformers converts it
// (tokenizers/sentencepiece_bpe.h), written as a Llama 2 style tokenizer.json.
TEST(HfTokenizersAgreement, Llama2SentencePieceStyle) {
  REQUIRE_LLAMACPP_MODELS();
  expect_agreement("ggml-vocab-llama-spm.gguf", tk::sentencepiece_bpe_from_gguf);
}

TEST(HfTokenizersAgreement, Gpt2) {
  REQUIRE_LLAMACPP_MODELS();
  expect_agreement("ggml-vocab-gpt-2.gguf");
}

}  // namespace
