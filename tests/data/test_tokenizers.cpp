// Character and byte tokenizers: round trips, vocabulary order, the unknown-character and
// bad-id errors, UTF-8 handling; and the fortunes corpus they are built from.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>

#include "data/byte_tokenizer.h"
#include "data/char_tokenizer.h"
#include "data/file_bytes.h"
#include "data/fortunes_corpus.h"
#include "data/utf8.h"
#include "tests/data/errors.h"

namespace qforge::data {
namespace {

using ::testing::AllOf;
using ::testing::HasSubstr;
using testing::invalid_argument_of;
using testing::runtime_error_of;

TEST(CharTokenizer, SortedVocabularyAndRoundTrip) {
  const CharTokenizer tokenizer = CharTokenizer::from_corpus("hello world");
  EXPECT_EQ(tokenizer.vocab_size(), 8);  // ' ', d, e, h, l, o, r, w
  EXPECT_EQ(tokenizer.vocabulary_utf8(), " dehlorw");
  EXPECT_EQ(tokenizer.encode("hold"), (TokenIds{3, 5, 4, 1}));
  EXPECT_EQ(tokenizer.decode({7, 5, 6, 4, 1}), "world");
  EXPECT_EQ(tokenizer.decode(tokenizer.encode("hello world")), "hello world");
  // A saved vocabulary rebuilds the same ids whatever its order.
  EXPECT_EQ(CharTokenizer::from_vocabulary("wrolhed ").encode("hold"), (TokenIds{3, 5, 4, 1}));
}

TEST(CharTokenizer, CodePointsNotBytes) {
  const std::string text = "coup d'\xC3\xA9tat \xE2\x80\x94 na\xC3\xAFve";  // é, em dash, ï
  const CharTokenizer tokenizer = CharTokenizer::from_corpus(text);
  EXPECT_EQ(tokenizer.encode(text).size(), utf8_to_code_points(text).size());
  EXPECT_EQ(tokenizer.encode(text).size(), text.size() - 4);  // é, ï: 2 bytes; em dash: 3
  EXPECT_EQ(tokenizer.characters().back(), U'\u2014');         // largest code point sorts last
  EXPECT_EQ(tokenizer.decode(tokenizer.encode(text)), text);
}

TEST(CharTokenizer, UnknownCharacterNamesItAndItsPosition) {
  const CharTokenizer tokenizer = CharTokenizer::from_corpus("abc");
  EXPECT_THAT(invalid_argument_of([&] { tokenizer.encode("abxc"); }),
              AllOf(HasSubstr("CharTokenizer::encode: character 'x' (U+0078) at position 2"),
                    HasSubstr("vocabulary of 3 characters")));
  EXPECT_THAT(invalid_argument_of([&] { tokenizer.encode("a\xC3\xA9"); }), HasSubstr("'\xC3\xA9' (U+00E9) at position 1"));
  EXPECT_THAT(invalid_argument_of([&] { tokenizer.encode("a\n"); }), HasSubstr("character U+000A at position 1"));
  EXPECT_THAT(invalid_argument_of([&] { tokenizer.decode({0, 3}); }),
              HasSubstr("CharTokenizer::decode: id 3 at position 1 is outside the vocabulary of 3"));
}

TEST(Utf8, MalformedInputIsRejected) {
  EXPECT_THAT(invalid_argument_of([] { utf8_to_code_points("ab\xFF"); }), HasSubstr("malformed sequence at byte 2 (0xff)"));
  EXPECT_THAT(invalid_argument_of([] { utf8_to_code_points("a\xC3"); }), HasSubstr("at byte 1 (0xc3)"));  // cut short
  EXPECT_THAT(invalid_argument_of([] { utf8_to_code_points("\xC0\xAF"); }), HasSubstr("at byte 0"));     // overlong '/'
  EXPECT_THAT(invalid_argument_of([] { utf8_to_code_points("\xED\xA0\x80"); }), HasSubstr("at byte 0"));  // surrogate
  EXPECT_EQ(utf8_to_code_points("\xF0\x9F\x98\x80"), std::u32string(1, U'\U0001F600'));
}

TEST(ByteTokenizer, AllBytesRoundTrip) {
  const ByteTokenizer tokenizer;
  std::string every_byte;
  for (int b = 0; b < 256; ++b) every_byte += static_cast<char>(b);
  const TokenIds ids = tokenizer.encode(every_byte);
  ASSERT_EQ(ids.size(), 256u);
  for (uint32_t b = 0; b < 256; ++b) EXPECT_EQ(ids[b], b);
  EXPECT_EQ(tokenizer.decode(ids), every_byte);
  EXPECT_EQ(tokenizer.encode("\xC3\xA9"), (TokenIds{0xC3, 0xA9}));
  EXPECT_THAT(invalid_argument_of([&] { tokenizer.decode({65, 256}); }),
              HasSubstr("ByteTokenizer::decode: id 256 at position 1 is outside the vocabulary of 256"));
}

TEST(Fortunes, SplitEntries) {
  EXPECT_EQ(split_fortunes("one\n%\ntwo\nlines\n%\n%\nlast"),
            (std::vector<std::string>{"one\n", "two\nlines\n", "last\n"}));
  EXPECT_EQ(split_fortunes("a 100% sure\n%\n"), (std::vector<std::string>{"a 100% sure\n"}));  // '%' inside a line stays
  EXPECT_TRUE(split_fortunes("%\n%\n").empty());
}

TEST(Fortunes, CorpusLoadsAndTokenizes) {
  const std::string corpus = load_fortunes_corpus();
  const CharTokenizer tokenizer = CharTokenizer::from_corpus(corpus);
  const TokenIds ids = tokenizer.encode(corpus);
  std::printf("fortunes corpus: %zu files, %zu bytes, %zu characters, vocab %lld\n",
              english_fortunes_files().size(), corpus.size(), ids.size(), static_cast<long long>(tokenizer.vocab_size()));
  EXPECT_EQ(english_fortunes_files().size(), 43u);
  // The files total 2,576,674 bytes; dropping '%' lines and adding separators leaves 2.4-2.6 MB.
  EXPECT_GT(corpus.size(), 2'400'000u);
  EXPECT_LT(corpus.size(), 2'576'674u);
  EXPECT_GT(tokenizer.vocab_size(), 95);  // printable ASCII plus control and a few non-ASCII
  EXPECT_LT(tokenizer.vocab_size(), 200);
  // Files come in list order: the corpus opens with the first entry of "art".
  const std::vector<std::string> art = split_fortunes(read_text_file(std::string(kFortunesDirectory) + "/art"));
  EXPECT_EQ(corpus.rfind(art.front() + "\n" + art[1], 0), 0u);
  EXPECT_NE(corpus.find("A day for firm decisions!!!!!  Or is it?\n\nA few hours grace"), std::string::npos);
  EXPECT_EQ(corpus.find("\n%\n"), std::string::npos);  // no separator lines left
  EXPECT_EQ(tokenizer.decode(ids), corpus);
}

TEST(Fortunes, MissingFileNamed) {
  EXPECT_THAT(runtime_error_of([] { load_fortunes_corpus(kFortunesDirectory, {"fortunes", "no-such-file"}); }),
              AllOf(HasSubstr("missing file"), HasSubstr(std::string(kFortunesDirectory) + "/no-such-file")));
  const std::string small = load_fortunes_corpus(kFortunesDirectory, {"fortunes"});
  EXPECT_EQ(small.rfind("A day for firm decisions!!!!!  Or is it?\n\nA few hours grace", 0), 0u);
}

}  // namespace
}  // namespace qforge::data
