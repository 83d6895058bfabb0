// The pre-tokenizer tables and the DeepSeek / Tekken patterns on strings whose splits were worked out by hand
// from the regexes (docs/tokenizers.md §2): each regex of a sequence splits the pieces the previous ones left.
// The real-vocabulary checks are test_llamacpp_vocab_files (DeepSeek) and test_hf_tokenizers_agreement.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "exporters/tokenizers/bpe_tokenizer.h"
#include "exporters/tokenizers/byte_level.h"
#include "exporters/tokenizers/pre_tokenizer.h"
#include "exporters/tokenizers/tokenizer_json.h"

namespace {

namespace tk = qforge::exporters::tokenizers;
using Strings = std::vector<std::string>;

Strings pieces(std::string_view text, tk::PreTokenizer kind) {
  Strings out;
  for (const auto& [b, e] : tk::pre_tokenize(text, kind)) out.emplace_back(text.substr(b, e - b));
  return out;
}

TEST(PreTokenizerSequence, DeepseekCoder) {
  // [\r\n] isolates the newline; \s?\p{L}+ takes " x" and leaves the space before it alone; '=' is a
  // symbol (Sm), not \p{P}, so it stays with the digits until \p{N} isolates each digit.
  EXPECT_EQ(pieces("Hello, world!\n  x=12;", tk::PreTokenizer::kDeepseekCoder),
            (Strings{"Hello", ",", " world", "!", "\n", " ", " x", "=", "1", "2", ";"}));
}

TEST(PreTokenizerSequence, DeepseekLlm) {
  // The same text: [!-/:-~...] holds '=' and ';', and \p{N}+ keeps the digit run whole.
  EXPECT_EQ(pieces("Hello, world!\n  x=12;", tk::PreTokenizer::kDeepseekLlm),
            (Strings{"Hello", ",", " world", "!", "\n", " ", " x", "=", "12", ";"}));
  // Ideographs are not in the letter class: the CJK regex cuts them out of the rest, then \p{N}+.
  EXPECT_EQ(pieces("ab \xE4\xB8\xAD\xE6\x96\x87 12", tk::PreTokenizer::kDeepseekLlm),
            (Strings{"ab", " ", "\xE4\xB8\xAD\xE6\x96\x87", " ", "12"}));
  // U+3000 (ideographic space) is both \s and in the punctuation class: "\s?" takes it before '。'.
  EXPECT_EQ(pieces("a\xE3\x80\x80\xE3\x80\x82", tk::PreTokenizer::kDeepseekLlm),
            (Strings{"a", "\xE3\x80\x80\xE3\x80\x82"}));
}

TEST(PreTokenizerSequence, Tekken) {
  // Case changes split words: U*W+ takes "ABC" then "def"; digits one by one; '/' leads a word.
  EXPECT_EQ(pieces("HelloWorld ABCdef 123 the/a/b\n", tk::PreTokenizer::kTekken),
            (Strings{"Hello", "World", " ABCdef", " ", "1", "2", "3", " the", "/a", "/b", "\n"}));
  // An all-capital word: U*W+ fails after backtracking, U+W* takes it. " ?[^\s\p{L}\p{N}]+[\r\n/]*".
  EXPECT_EQ(pieces("\xC3\x89" "COLE x!!abc a//\nc", tk::PreTokenizer::kTekken),
            (Strings{"\xC3\x89" "COLE", " x", "!!", "abc", " a", "//\n", "c"}));
  // Lo and Lm are in both case classes, combining marks too: "日本語Test" is one word, "é" (e + U+0301) too.
  EXPECT_EQ(pieces("\xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9ETest e\xCC\x81t\xC3\xA9", tk::PreTokenizer::kTekken),
            (Strings{"\xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9ETest", " e\xCC\x81t\xC3\xA9"}));
}

TEST(PreTokenizerTables, RegexesNameTheirKind) {
  for (const tk::PreTokenizer kind : {tk::PreTokenizer::kGpt2, tk::PreTokenizer::kLlama3, tk::PreTokenizer::kQwen2,
                                      tk::PreTokenizer::kDeepseekLlm, tk::PreTokenizer::kDeepseekCoder, tk::PreTokenizer::kTekken})
    EXPECT_EQ(tk::pre_tokenizer_from_regexes(tk::pre_tokenizer_regexes(kind)), kind) << tk::pre_tokenizer_display_name(kind);
  EXPECT_EQ(tk::pre_tokenizer_regexes(tk::PreTokenizer::kDeepseekLlm).size(), 6u);
  EXPECT_EQ(tk::pre_tokenizer_regexes(tk::PreTokenizer::kDeepseekCoder).size(), 5u);
  EXPECT_EQ(tk::pre_tokenizer_regexes(tk::PreTokenizer::kDeepseekCoder)[0], "[\r\n]");
  // Part of a sequence names nothing.
  std::vector<std::string> partial = tk::pre_tokenizer_regexes(tk::PreTokenizer::kDeepseekCoder);
  partial.pop_back();
  EXPECT_EQ(tk::pre_tokenizer_from_regexes(partial), std::nullopt);
}

TEST(PreTokenizerTables, GgufNamesCarryIgnoreMerges) {
  const auto smaug = tk::pre_tokenizer_from_gguf_name("smaug-bpe");
  ASSERT_TRUE(smaug);
  EXPECT_EQ(smaug->kind, tk::PreTokenizer::kLlama3);
  EXPECT_FALSE(smaug->ignore_merges);
  EXPECT_TRUE(tk::pre_tokenizer_from_gguf_name("tekken")->ignore_merges);
  EXPECT_FALSE(tk::pre_tokenizer_from_gguf_name("deepseek-llm")->ignore_merges);
  EXPECT_EQ(tk::pre_tokenizer_from_gguf_name("deepseek-v3"), std::nullopt);
  EXPECT_STREQ(tk::pre_tokenizer_gguf_name(tk::PreTokenizer::kLlama3, true).name, "llama-bpe");
  EXPECT_STREQ(tk::pre_tokenizer_gguf_name(tk::PreTokenizer::kLlama3, false).name, "smaug-bpe");
  EXPECT_STREQ(tk::pre_tokenizer_gguf_name(tk::PreTokenizer::kDeepseekCoder, false).name, "deepseek-coder");
  // No gpt2 name has ignore_merges: the first name, which says so.
  const tk::GgufPreTokenizerName gpt2 = tk::pre_tokenizer_gguf_name(tk::PreTokenizer::kGpt2, true);
  EXPECT_STREQ(gpt2.name, "gpt-2");
  EXPECT_FALSE(gpt2.ignore_merges);
}

// tokenizer.json: DeepSeek Coder's pre-tokenizer is written as Sequence[Split x 5, ByteLevel] and read back as
// such; an empty Sequence normalizer is accepted; a Split list that is no known pattern is refused, naming the
// patterns qforge knows.
TEST(PreTokenizerTables, TokenizerJsonSplitSequences) {
  std::vector<std::string> bytes;
  for (int b = 0; b < 256; ++b) bytes.push_back(tk::byte_to_unicode(static_cast<uint8_t>(b)));
  tk::BpeOptions options;
  options.flavour = tk::BpeFlavour::kByteLevel;
  options.pre = tk::PreTokenizer::kDeepseekCoder;
  nlohmann::json j = nlohmann::json::parse(tk::tokenizer_json_text(tk::BpeTokenizer(bytes, {}, {}, options)));
  ASSERT_EQ(j["pre_tokenizer"]["pretokenizers"].size(), 6u);
  EXPECT_EQ(j["pre_tokenizer"]["pretokenizers"][1]["pattern"]["Regex"], "\\s?\\p{L}+");
  EXPECT_EQ(j["pre_tokenizer"]["pretokenizers"][5]["type"], "ByteLevel");
  j["normalizer"] = {{"type", "Sequence"}, {"normalizers", nlohmann::json::array()}};
  EXPECT_EQ(tk::parse_tokenizer_json(j.dump(), "t.json").options().pre, tk::PreTokenizer::kDeepseekCoder);
  j["pre_tokenizer"]["pretokenizers"][1]["pattern"]["Regex"] = "\\s?\\p{L}*";
  try {
    tk::parse_tokenizer_json(j.dump(), "t.json");
    ADD_FAILURE() << "an unknown Split list was accepted";
  } catch (const std::invalid_argument& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("t.json"), std::string::npos) << what;
    EXPECT_NE(what.find("is not the Split pattern list of GPT-2, Llama 3, Qwen2, DeepSeek LLM, DeepSeek Coder, Tekken"),
              std::string::npos) << what;
  }
}

}  // namespace
