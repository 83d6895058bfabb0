// SpmTokenizer on a hand-made vocabulary, each expectation worked out by hand from llama.cpp's
// llm_tokenizer_spm_session (src/llama-vocab.cpp). The real-vocabulary vectors are in
// test_llamacpp_vocab_files.cpp.
#include <gtest/gtest.h>

#include <stdexcept>
#include <string>
#include <vector>

#include "exporters/gguf/gguf_value.h"
#include "exporters/gguf/spm_tokenizer.h"

namespace {

namespace gg = qforge::exporters::gguf;
using Type = gg::SpmTokenType;

enum Id : int32_t { kUnk, kBos, kMarker, kA, kB, kAB, kBA, kMarkerA, kNewline, kC3, kA9, kSep };

gg::SpmTokenizer make_tokenizer(bool add_space_prefix) {
  std::vector<std::string> tokens = {"<unk>", "<s>", "\xE2\x96\x81", "a", "b", "ab", "ba", "\xE2\x96\x81" "a",
                                     "<0x0A>", "<0xC3>", "<0xA9>", "<sep>"};
  std::vector<float> scores = {0, 0, -1, -2, -2, -1.5f, -1.5f, -1, 0, 0, 0, 0};
  std::vector<Type> types = {Type::kUnknown, Type::kControl, Type::kNormal, Type::kNormal, Type::kNormal,
                             Type::kNormal,  Type::kNormal,  Type::kNormal, Type::kByte,   Type::kByte,
                             Type::kByte,    Type::kUserDefined};
  return gg::SpmTokenizer(tokens, scores, types, add_space_prefix);
}

TEST(SpmTokenizer, EqualScoresMergeTheLeftmostPairFirst) {
  // "ab" and "ba" both score -1.5: llm_bigram_spm's comparator pops the smaller left index, so "ab"
  // merges first and "aba" (no token) stops there.
  EXPECT_EQ(make_tokenizer(false).encode("aba"), (std::vector<int32_t>{kAB, kA}));
  EXPECT_EQ(make_tokenizer(false).encode("bab"), (std::vector<int32_t>{kBA, kB}));
}

TEST(SpmTokenizer, HigherScoreWinsOverPosition) {
  // " ab" -> "▁ab": "▁a" (-1) beats "ab" (-1.5) although "ab" is to its right.
  EXPECT_EQ(make_tokenizer(false).encode(" ab"), (std::vector<int32_t>{kMarkerA, kB}));
}

TEST(SpmTokenizer, UnknownCharactersFallBackToByteTokens) {
  // "é" is the 2-byte symbol C3 A9: no token, so its bytes; "\n" is <0x0A>.
  EXPECT_EQ(make_tokenizer(false).encode("\xC3\xA9\n"), (std::vector<int32_t>{kC3, kA9, kNewline}));
  // 'z' has neither <0x7A> nor a "z" token.
  EXPECT_THROW(make_tokenizer(false).encode("z"), std::runtime_error);
}

TEST(SpmTokenizer, SpacePrefixAndUserDefinedTokens) {
  // add_space_prefix: " a" becomes "▁▁a" -> ▁ + ▁a; "<sep>" is split out first, and the fragment after it
  // gets the prefix again.
  EXPECT_EQ(make_tokenizer(true).encode(" a<sep>a"), (std::vector<int32_t>{kMarker, kMarkerA, kSep, kMarkerA}));
  EXPECT_EQ(make_tokenizer(false).encode("a<sep>a"), (std::vector<int32_t>{kA, kSep, kA}));
  EXPECT_TRUE(make_tokenizer(true).encode("").empty());
}

TEST(SpmTokenizer, DecodeAsTokenToPiece) {
  const std::vector<int32_t> ids = {kBos, kMarkerA, kAB, kC3, kA9, kNewline, kUnk, kSep};
  // Control and unknown tokens print nothing; the leading space from "▁a" is removed with add_space_prefix.
  EXPECT_EQ(make_tokenizer(true).decode(ids), "aab\xC3\xA9\n<sep>");
  EXPECT_EQ(make_tokenizer(false).decode(ids), " aab\xC3\xA9\n<sep>");
  EXPECT_THROW(make_tokenizer(true).decode(std::vector<int32_t>{12}), std::out_of_range);
}

TEST(SpmTokenizer, FromGgufReadsTheTokenizerKeys) {
  gg::GgufFile file;
  file.set("tokenizer.ggml.model", std::string("llama"));
  file.set("tokenizer.ggml.tokens", gg::make_array<std::string>({"<0x0A>", "a", "b", "ab"}));
  file.set("tokenizer.ggml.scores", gg::make_array<float>({0, -2, -2, -1}));
  file.set("tokenizer.ggml.token_type", gg::make_array<int32_t>({6, 1, 1, 1}));
  file.set("tokenizer.ggml.add_space_prefix", false);
  const gg::SpmTokenizer tokenizer = gg::SpmTokenizer::from_gguf(file, "mem.gguf");
  EXPECT_EQ(tokenizer.encode("ab\na"), (std::vector<int32_t>{3, 0, 1}));
  file.set("tokenizer.ggml.model", std::string("gpt2"));
  try {
    (void)gg::SpmTokenizer::from_gguf(file, "mem.gguf");
    FAIL() << "no exception";
  } catch (const std::invalid_argument& e) {
    EXPECT_NE(std::string(e.what()).find("mem.gguf: tokenizer.ggml.model is not \"llama\""), std::string::npos) << e.what();
  }
}

}  // namespace
