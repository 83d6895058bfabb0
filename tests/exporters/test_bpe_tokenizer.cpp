// The BPE engine on small hand-made vocabularies (expected ids worked out by hand from the rules in
// exporters/tokenizers/bpe_tokenizer.h) and the pre-tokenizer regexes on strings whose splits the
// patterns fix (cross-checked with tokenizers.js's JavaScript RegExp, tools/hf_tokenizers).
#include <gtest/gtest.h>

#include "exporters/tokenizers/bpe_tokenizer.h"
#include "exporters/tokenizers/byte_level.h"
#include "exporters/tokenizers/pre_tokenizer.h"
#include "exporters/tokenizers/tokenizer_json.h"
#include "exporters/tokenizers/unicode_text.h"

namespace {

namespace tk = qforge::exporters::tokenizers;

std::vector<std::string> pieces(std::string_view text, tk::PreTokenizer kind) {
  std::vector<std::string> out;
  for (const auto& [b, e] : tk::pre_tokenize(text, kind)) out.emplace_back(text.substr(b, e - b));
  return out;
}

using Strings = std::vector<std::string>;

TEST(PreTokenizer, Gpt2Pattern) {
  EXPECT_EQ(pieces("Hello world's  end 12345!!\n", tk::PreTokenizer::kGpt2),
            (Strings{"Hello", " world", "'s", " ", " end", " 12345", "!!", "\n"}));
  // \s+(?!\S) leaves the last space for " ?\p{L}+"; case-sensitive contractions.
  EXPECT_EQ(pieces("a   b'S", tk::PreTokenizer::kGpt2), (Strings{"a", "  ", " b", "'", "S"}));
}

TEST(PreTokenizer, Llama3Pattern) {
  EXPECT_EQ(pieces("I'LL pay 1234567 \xE2\x82\xAC!\n\n  x", tk::PreTokenizer::kLlama3),
            (Strings{"I", "'LL", " pay", " ", "123", "456", "7", " \xE2\x82\xAC!\n\n", " ", " x"}));
  // [^\r\n\p{L}\p{N}]?\p{L}+ takes one leading punctuation or tab; \s*[\r\n]+ ends at the last newline.
  EXPECT_EQ(pieces("(abc)\t\tdef \n \n  z", tk::PreTokenizer::kLlama3),
            (Strings{"(abc", ")", "\t", "\tdef", " \n \n", " ", " z"}));
}

TEST(PreTokenizer, Qwen2SplitsDigitsOneByOne) {
  EXPECT_EQ(pieces("x 2024", tk::PreTokenizer::kQwen2), (Strings{"x", " ", "2", "0", "2", "4"}));
}

TEST(PreTokenizer, UnicodeClasses) {
  EXPECT_EQ(tk::char_class(U'é'), tk::kLetter);
  EXPECT_EQ(tk::char_class(U'\u4E2D'), tk::kLetter);   // CJK ideograph: Lo
  EXPECT_EQ(tk::char_class(U'\u0663'), tk::kNumber);   // ARABIC-INDIC DIGIT THREE: Nd
  EXPECT_EQ(tk::char_class(U'\u00BD'), tk::kNumber);   // VULGAR FRACTION ONE HALF: No
  EXPECT_EQ(tk::char_class(U'\u3000'), tk::kWhitespace);
  EXPECT_EQ(tk::char_class(U'\n'), tk::kWhitespace | tk::kNewline);
  EXPECT_EQ(tk::char_class(U'\u200B'), 0);              // ZERO WIDTH SPACE is no White_Space
  EXPECT_EQ(tk::nfc("e\xCC\x81"), "\xC3\xA9");         // e + COMBINING ACUTE -> é
}

TEST(ByteLevel, Gpt2Table) {
  EXPECT_EQ(tk::byte_to_unicode(' '), "\xC4\xA0");   // 'Ġ' U+0120
  EXPECT_EQ(tk::byte_to_unicode('\n'), "\xC4\x8A");  // 'Ċ' U+010A
  EXPECT_EQ(tk::byte_to_unicode('A'), "A");
  EXPECT_EQ(tk::byte_to_unicode(0xAD), "\xC5\x83");  // soft hyphen: the 68th remapped byte, U+0143
  std::string all;
  for (int b = 0; b < 256; ++b) all += static_cast<char>(b);
  EXPECT_EQ(tk::byte_level_decode(tk::byte_level_encode(all)), all);
}

// A byte-level vocabulary: the 256 byte characters, then merges a+b, ab+c, Ġ+ab.
tk::BpeTokenizer tiny_byte_level(bool ignore_merges) {
  std::vector<std::string> tokens;
  for (int b = 0; b < 256; ++b) tokens.push_back(tk::byte_to_unicode(static_cast<uint8_t>(b)));
  tokens.insert(tokens.end(), {"ab", "abc", "\xC4\xA0" "ab", "cab", "<|end|>"});  // ids 256..260
  tk::BpeOptions options;
  options.pre = tk::PreTokenizer::kGpt2;
  options.ignore_merges = ignore_merges;
  return tk::BpeTokenizer(tokens, {{"a", "b"}, {"ab", "c"}, {"\xC4\xA0", "ab"}}, {{260, "<|end|>", true}}, options);
}

TEST(BpeTokenizer, MergesByRankLeftmostFirst) {
  const tk::BpeTokenizer t = tiny_byte_level(false);
  // "abab c": words "abab", " c"; "abab" -> ab ab (rank 0 twice, leftmost first), " c" -> Ġ c.
  EXPECT_EQ(t.encode("abab c"), (std::vector<int32_t>{256, 256, ' ', 'c'}));
}

TEST(BpeTokenizer, IgnoreMergesTakesWholeWords) {
  // "cab" is a token but no merge builds it: merges give c ab, ignore_merges gives cab.
  EXPECT_EQ(tiny_byte_level(false).encode("cab"), (std::vector<int32_t>{'c', 256}));
  EXPECT_EQ(tiny_byte_level(true).encode("cab"), (std::vector<int32_t>{259}));
}

TEST(BpeTokenizer, SpecialTokensSplitOutOnlyWhenAsked) {
  const tk::BpeTokenizer t = tiny_byte_level(false);
  EXPECT_EQ(t.encode("abc<|end|> ab"), (std::vector<int32_t>{257, 260, 258}));
  const std::vector<int32_t> as_text = t.encode("<|end|>", false);
  EXPECT_EQ(as_text.size(), 7u);  // words "<|", "end", "|>": no merge applies, one id per byte
  EXPECT_EQ(t.decode(t.encode("abc<|end|> ab")), "abc<|end|> ab");
  EXPECT_EQ(t.decode(t.encode("abc<|end|> ab"), true), "abc ab");
}

}  // namespace
