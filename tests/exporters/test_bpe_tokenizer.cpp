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
  EXPECT_EQ(tk::char_class(U'é'), tk::kLetter | tk::kLower);
  EXPECT_EQ(tk::char_class(U'A'), tk::kLetter | tk::kUpper);
  EXPECT_EQ(tk::char_class(U'\u01C5'), tk::kLetter | tk::kUpper);  // LATIN CAPITAL D WITH SMALL Z WITH CARON: Lt
  EXPECT_EQ(tk::char_class(U'\u02B0'), tk::kLetter);  // MODIFIER LETTER SMALL H: Lm, neither case
  EXPECT_EQ(tk::char_class(U'\u4E2D'), tk::kLetter);   // CJK ideograph: Lo
  EXPECT_EQ(tk::char_class(U'\u0301'), tk::kMark);     // COMBINING ACUTE ACCENT: Mn
  EXPECT_EQ(tk::char_class(U'!'), tk::kPunctuation);   // Po
  EXPECT_EQ(tk::char_class(U'$'), 0);                  // Sc: a symbol, no punctuation
  EXPECT_EQ(tk::char_class(U'\u3002'), tk::kPunctuation);  // IDEOGRAPHIC FULL STOP
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

// A SentencePiece-style vocabulary: ▁, a, b, ▁a, ▁ab, the bytes of 'é' (0xC3 0xA9) and <unk>.
tk::BpeTokenizer tiny_sentencepiece() {
  tk::BpeOptions options;
  options.flavour = tk::BpeFlavour::kSentencePiece;
  options.byte_fallback = true;
  options.unk = 0;
  return tk::BpeTokenizer({"<unk>", "\xE2\x96\x81", "a", "b", "\xE2\x96\x81" "a", "\xE2\x96\x81" "ab", "<0xC3>", "<0xA9>"},
                          {{"\xE2\x96\x81", "a"}, {"\xE2\x96\x81" "a", "b"}}, {{0, "<unk>", true}}, options);
}

TEST(BpeTokenizer, SentencePieceStyleByteFallback) {
  const tk::BpeTokenizer t = tiny_sentencepiece();
  // "ab aéc": ▁ab ▁a then 'é' has no token: its bytes' <0xC3> <0xA9>; 'c' has no byte token either: <unk>.
  EXPECT_EQ(t.encode("ab a\xC3\xA9" "c"), (std::vector<int32_t>{5, 4, 6, 7, 0}));
  EXPECT_EQ(t.decode(t.encode("ab a\xC3\xA9")), "ab a\xC3\xA9");
}

TEST(TokenizerJson, RoundTripKeepsEveryId) {
  for (const tk::BpeTokenizer& t : {tiny_byte_level(true), tiny_sentencepiece()}) {
    const std::string json = tk::tokenizer_json_text(t);
    const tk::BpeTokenizer back = tk::parse_tokenizer_json(json, "tiny.json");
    for (const char* text : {"abab c<|end|>", " abc cab", "ab a\xC3\xA9" "c", ""})
      EXPECT_EQ(back.encode(text), t.encode(text)) << text;
    EXPECT_EQ(tk::tokenizer_json_text(back), json);
  }
}

TEST(TokenizerJson, NfcNormalizerComposesBeforeMerging) {
  std::string json = tk::tokenizer_json_text(tiny_byte_level(false));
  json.replace(json.find("\"normalizer\": null"), 18, "\"normalizer\": {\"type\": \"NFC\"}");
  const tk::BpeTokenizer t = tk::parse_tokenizer_json(json, "nfc.json");
  // e + U+0301 becomes U+00E9: the two bytes C3 A9 instead of 65 CC 81.
  EXPECT_EQ(t.encode("e\xCC\x81"), (std::vector<int32_t>{0xC3, 0xA9}));
}

std::string error_of(const std::string& json) {
  try {
    tk::parse_tokenizer_json(json, "bad.json");
  } catch (const std::invalid_argument& e) {
    return e.what();
  }
  return "no error";
}

TEST(TokenizerJson, ErrorsNameTheFileAndField) {
  const std::string good = tk::tokenizer_json_text(tiny_byte_level(false));
  const auto with = [&](const std::string& from, const std::string& to) {
    std::string j = good;
    const size_t at = j.find(from);
    EXPECT_NE(at, std::string::npos) << from;
    return j.replace(at, from.size(), to);
  };
  EXPECT_EQ(error_of(with("\"type\": \"BPE\"", "\"type\": \"Unigram\"")), "tokenizer: bad.json: model.type: Unigram is not supported (BPE only)");
  EXPECT_EQ(error_of(with("\"use_regex\": true", "\"use_regex\": false")), "tokenizer: bad.json: pre_tokenizer.use_regex: false with no Split");
  EXPECT_EQ(error_of(with("\"ab\": 256", "\"ab\": 99999999")).substr(0, 69), "tokenizer: bad.json: model.vocab[\"ab\"]: id 99999999 is not an integer");
  EXPECT_EQ(error_of(with("\"normalizer\": null", "\"normalizer\": {\"type\": \"Lowercase\"}")).substr(0, 33), "tokenizer: bad.json: normalizer: ");
  // The parser's byte, from 0: the end of the 11-byte text, where the object is cut short.
  EXPECT_EQ(error_of("{\"model\": 3").substr(0, 59), "tokenizer: bad.json: JSON at byte 11: parse error at line 1");
}

}  // namespace
