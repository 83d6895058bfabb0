// The pre-tokenizers of issue 18 against @huggingface/tokenizers (tools/hf_tokenizers, tests/support/
// hf_tokenizers_peer.h): qforge writes each tokenizer as tokenizer.json (DeepSeek's as a Sequence of five or six
// Split steps, docs/tokenizers.md §2), tokenizers.js tokenizes a corpus from that file, and qforge's ids from the
// tokenizer itself and from the file read back must be identical for every text. The splits alone, on every
// fortune, are test_hf_pre_tokenizer_splits.
//   deepseek-llm, deepseek-coder: llama.cpp's ggml-vocab-deepseek-*.gguf as read from the GGUF.
//   tekken: no vocabulary of Mistral-Nemo's is at hand, so Llama 3's (ggml-vocab-llama-bpe.gguf, a 128k
//   byte-level vocabulary like Tekken's 131k) is read with tokenizer.ggml.pre "tekken".
//   (smaug-bpe is Llama 3's regex, checked by test_hf_tokenizers_agreement, without ignore_merges:
//   test_pre_tokenizer and the round trip of test_llamacpp_vocab_files check that name.)
// The corpus: the texts of hf_tokenizers_peer.h (kExtraTexts, kPatternTexts) and every 20th fortune, so that
// the test stays near 30 s on the 2-core machine (loading a vocabulary takes tokenizers.js most of it).
#include <gtest/gtest.h>

#include <string>

#include "exporters/gguf/gguf_reader.h"
#include "exporters/tokenizers/gguf_bpe.h"
#include "tests/support/hf_tokenizers_peer.h"
#include "tests/support/llamacpp_models.h"

namespace {

namespace gg = qforge::exporters::gguf;
namespace tk = qforge::exporters::tokenizers;
namespace hf_peer = qforge::test::hf_peer;

std::vector<std::string> texts() { return hf_peer::corpus(20, hf_peer::kPatternTexts); }

void expect_agreement(const std::string& vocab_name, const std::string& pre_name = "") {
  const std::filesystem::path vocab = qforge::test::LlamaCppModels::get().dir() / vocab_name;
  const gg::GgufReader reader(vocab);
  gg::GgufFile file = reader.file();
  if (!pre_name.empty()) file.set("tokenizer.ggml.pre", pre_name);
  const tk::BpeTokenizer tokenizer = tk::bpe_tokenizer_from_gguf(file, vocab.string());
  const std::vector<std::string> corpus = texts();
  hf_peer::expect_agreement(tokenizer, vocab_name + (pre_name.empty() ? "" : " as " + pre_name), corpus);
  EXPECT_GT(corpus.size(), 700u);  // the fortunes are there
}

TEST(HfTokenizersPreTokenizers, DeepseekLlm) {
  REQUIRE_LLAMACPP_MODELS();
  expect_agreement("ggml-vocab-deepseek-llm.gguf");
}

TEST(HfTokenizersPreTokenizers, DeepseekCoder) {
  REQUIRE_LLAMACPP_MODELS();
  expect_agreement("ggml-vocab-deepseek-coder.gguf");
}

TEST(HfTokenizersPreTokenizers, Tekken) {
  REQUIRE_LLAMACPP_MODELS();
  expect_agreement("ggml-vocab-llama-bpe.gguf", "tekken");
}

}  // namespace
