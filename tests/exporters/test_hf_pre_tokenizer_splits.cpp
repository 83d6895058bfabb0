// qforge's hand-coded pre-tokenizers (exporters/tokenizers/pre_tokenizer.h) against the pre-tokenizer of
// @huggingface/tokenizers (tokenizers.js 0.2.0, tools/hf_tokenizers/pre_tokenize.mjs) read from the tokenizer.json
// qforge writes for each: the pieces of every text must be the same. The splits are checked before any
// vocabulary, whose merges can hide a wrong split ("日本語" + "Test" and "日本語Test" give Llama 3's vocabulary
// the same ids): the tokenizer is the 256 byte characters without merges. The corpus: every fortune of
// Debian's fortunes files plus tests/support/hf_tokenizers_peer.h's texts (15,250 texts).
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "exporters/tokenizers/byte_level.h"
#include "exporters/tokenizers/pre_tokenizer.h"
#include "tests/support/hf_tokenizers_peer.h"

namespace {

namespace tk = qforge::exporters::tokenizers;
namespace hf_peer = qforge::test::hf_peer;

TEST(HfPreTokenizerSplits, EveryPatternSplitsAsTokenizersJs) {
  std::vector<std::string> bytes;
  for (int b = 0; b < 256; ++b) bytes.push_back(tk::byte_to_unicode(static_cast<uint8_t>(b)));
  const std::vector<std::string> corpus = hf_peer::corpus(1, hf_peer::kPatternTexts);
  for (const tk::PreTokenizer kind : {tk::PreTokenizer::kDeepseekLlm, tk::PreTokenizer::kDeepseekCoder, tk::PreTokenizer::kTekken,
                                      tk::PreTokenizer::kLlama3, tk::PreTokenizer::kQwen2, tk::PreTokenizer::kGpt2}) {
    tk::BpeOptions options;
    options.flavour = tk::BpeFlavour::kByteLevel;
    options.pre = kind;
    hf_peer::expect_same_pieces(tk::BpeTokenizer(bytes, {}, {}, options), tk::pre_tokenizer_display_name(kind), corpus);
  }
  EXPECT_GT(corpus.size(), 15000u);  // every fortune
}

}  // namespace
