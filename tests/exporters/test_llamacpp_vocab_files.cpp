// Files written by llama.cpp itself: every models/ggml-vocab-*.gguf of the llama.cpp source that
// node-llama-cpp ships (vocabulary only, SPM and BPE, GGUF v2 and v3, no tensors) must parse, and the
// SentencePiece tokenizer built from ggml-vocab-llama-spm.gguf (and phi-3's) and the byte-level BPE tokenizer
// built from ggml-vocab-llama-bpe.gguf, -qwen2 and -gpt-2 must reproduce the .inp/.out vectors llama.cpp's
// tests/test-tokenizer-0 checks (no BOS, specials as text).
// The files come from $QFORGE_LLAMACPP_MODELS if set, else from a clone of
// tools/llamacpp/node_modules/node-llama-cpp/llama/gitRelease.bundle (scripts/setup_node.sh installs it);
// without either the tests are skipped with a message.
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

#include "exporters/gguf/gguf_reader.h"
#include "exporters/gguf/spm_tokenizer.h"
#include "exporters/tokenizers/gguf_bpe.h"
#include "exporters/tokenizers/sentencepiece_bpe.h"
#include "tests/support/llamacpp_models.h"

namespace {

namespace fs = std::filesystem;
namespace gg = qforge::exporters::gguf;
using qforge::test::LlamaCppModels;

std::string read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

TEST(LlamaCppVocabFiles, EveryVocabFileParses) {
  REQUIRE_LLAMACPP_MODELS();
  int parsed = 0, spm = 0, bpe = 0;
  for (const auto& entry : fs::directory_iterator(LlamaCppModels::get().dir())) {
    const std::string name = entry.path().filename().string();
    if (!name.starts_with("ggml-vocab-") || entry.path().extension() != ".gguf") continue;
    SCOPED_TRACE(name);
    try {
      const gg::GgufReader reader(entry.path());
      const gg::Value* tokens = reader.file().find("tokenizer.ggml.tokens");
      ASSERT_NE(tokens, nullptr);
      EXPECT_GT(tokens->get<gg::Array>().elements.size(), 1000u);
      const std::string model = reader.file().find("tokenizer.ggml.model")->get<std::string>();
      spm += model == "llama";
      bpe += model == "gpt2";
      ++parsed;
    } catch (const std::exception& e) {
      ADD_FAILURE() << e.what();
    }
  }
  std::printf("parsed %d llama.cpp vocab files (%d SPM, %d BPE)\n", parsed, spm, bpe);
  EXPECT_GE(parsed, 15);
  EXPECT_GE(spm, 2);
  EXPECT_GE(bpe, 5);
}

// test-tokenizer-0's format: texts separated by "\n__ggml_vocab_test__\n", one line of ids per text.
template <class Encode>
void expect_vectors(const fs::path& vocab, const Encode& encode) {
  const std::string inputs = read_text(vocab.string() + ".inp");
  const std::string separator = "\n__ggml_vocab_test__\n";
  std::vector<std::string> texts;
  for (size_t start = 0; start < inputs.size();) {
    const size_t end = std::min(inputs.find(separator, start), inputs.size());
    texts.push_back(inputs.substr(start, end - start));
    start = end + separator.size();
  }
  std::istringstream expected(read_text(vocab.string() + ".out"));
  int matched = 0;
  for (const std::string& text : texts) {
    std::string want;
    std::getline(expected, want);
    while (!want.empty() && want.back() == ' ') want.pop_back();
    while (!want.empty() && want.front() == ' ') want.erase(0, 1);
    std::string got;
    for (const int32_t id : encode(text)) {
      if (!got.empty()) got += ' ';
      got += std::to_string(id);
    }
    EXPECT_EQ(got, want) << "text '" << text << "'";
    matched += got == want;
  }
  std::printf("%s: %d of %zu llama.cpp tokenizer vectors reproduced\n", vocab.filename().c_str(), matched, texts.size());
  EXPECT_GE(texts.size(), 40u);
}

void expect_tokenizer_vectors(const std::string& vocab_name) {
  const fs::path vocab = LlamaCppModels::get().dir() / vocab_name;
  const gg::GgufReader reader(vocab);
  const gg::SpmTokenizer tokenizer = gg::SpmTokenizer::from_gguf(reader.file(), vocab.string());
  expect_vectors(vocab, [&](const std::string& text) { return tokenizer.encode(text); });
}

// Byte-level BPE ("gpt2" vocabularies); parse_special = false: control tokens stay text.
void expect_bpe_vectors(const std::string& vocab_name) {
  const fs::path vocab = LlamaCppModels::get().dir() / vocab_name;
  const gg::GgufReader reader(vocab);
  const qforge::exporters::tokenizers::BpeTokenizer tokenizer =
      qforge::exporters::tokenizers::bpe_tokenizer_from_gguf(reader.file(), vocab.string());
  expect_vectors(vocab, [&](const std::string& text) {
    const std::vector<int32_t> ids = tokenizer.encode(text, false);
    EXPECT_EQ(tokenizer.decode(ids), text);  // byte-level BPE loses nothing
    return ids;
  });
}

TEST(LlamaCppVocabFiles, BpeTokenizerReproducesLlama3Vectors) {
  REQUIRE_LLAMACPP_MODELS();
  expect_bpe_vectors("ggml-vocab-llama-bpe.gguf");
}

TEST(LlamaCppVocabFiles, BpeTokenizerReproducesQwen2Vectors) {
  REQUIRE_LLAMACPP_MODELS();
  expect_bpe_vectors("ggml-vocab-qwen2.gguf");
}

// DeepSeek's pre-tokenizers are sequences of regexes, each splitting the pieces the previous left
// (docs/tokenizers.md §2).
TEST(LlamaCppVocabFiles, BpeTokenizerReproducesDeepseekLlmVectors) {
  REQUIRE_LLAMACPP_MODELS();
  expect_bpe_vectors("ggml-vocab-deepseek-llm.gguf");
}

TEST(LlamaCppVocabFiles, BpeTokenizerReproducesDeepseekCoderVectors) {
  REQUIRE_LLAMACPP_MODELS();
  expect_bpe_vectors("ggml-vocab-deepseek-coder.gguf");
}

// Llama 2's vocabulary as the SentencePiece-style BPE of an HF tokenizer.json (merges from the scores,
// byte fallback) tokenizes like SentencePiece itself.
TEST(LlamaCppVocabFiles, SentencePieceStyleBpeReproducesLlamaSpmVectors) {
  REQUIRE_LLAMACPP_MODELS();
  const fs::path vocab = LlamaCppModels::get().dir() / "ggml-vocab-llama-spm.gguf";
  const gg::GgufReader reader(vocab);
  const qforge::exporters::tokenizers::BpeTokenizer tokenizer =
      qforge::exporters::tokenizers::sentencepiece_bpe_from_gguf(reader.file(), vocab.string());
  expect_vectors(vocab, [&](const std::string& text) { return tokenizer.encode(text, false); });
}

// qforge's gpt2 vocabulary writer (docs/gguf.md §14) on the tokenizer read from llama.cpp's own files gives
// back their tokens, token types (as far as a tokenizer keeps them: normal, control, user-defined), merges
// and pre-tokenizer name.
void expect_vocabulary_rewritten(const std::string& vocab_name) {
  const fs::path vocab = LlamaCppModels::get().dir() / vocab_name;
  const gg::GgufReader reader(vocab);
  const gg::GgufFile& original = reader.file();
  const auto tokenizer = qforge::exporters::tokenizers::bpe_tokenizer_from_gguf(original, vocab.string());
  const auto& tokens = original.find("tokenizer.ggml.tokens")->get<gg::Array>().elements;
  gg::GgufFile written;
  qforge::exporters::tokenizers::add_gpt2_vocabulary(written, tokenizer, tokens.size(), std::nullopt, std::nullopt);
  for (const std::string key : {"tokenizer.ggml.model", "tokenizer.ggml.pre", "tokenizer.ggml.tokens", "tokenizer.ggml.merges"})
    EXPECT_TRUE(*written.find(key) == *original.find(key)) << vocab_name << ": " << key;
  const auto& types = original.find("tokenizer.ggml.token_type")->get<gg::Array>().elements;
  const auto& ours = written.find("tokenizer.ggml.token_type")->get<gg::Array>().elements;
  int differ = 0;
  for (size_t i = 0; i < types.size(); ++i) {
    const int32_t want = types[i].get<int32_t>();
    differ += ours[i].get<int32_t>() != want && (want == 1 || want == 3 || want == 4);
  }
  EXPECT_EQ(differ, 0) << vocab_name;
  std::printf("%s: %zu tokens and %zu merges rewritten as llama.cpp's file has them\n", vocab_name.c_str(), tokens.size(),
              ours.size() ? original.find("tokenizer.ggml.merges")->get<gg::Array>().elements.size() : 0);
}

TEST(LlamaCppVocabFiles, Gpt2VocabularyWriterReproducesLlamaCppFiles) {
  REQUIRE_LLAMACPP_MODELS();
  for (const std::string name : {"ggml-vocab-qwen2.gguf", "ggml-vocab-gpt-2.gguf", "ggml-vocab-llama-bpe.gguf",
                                 "ggml-vocab-deepseek-llm.gguf", "ggml-vocab-deepseek-coder.gguf"})
    expect_vocabulary_rewritten(name);
}

// The names whose pattern another name shares keep their name through read and write: "smaug-bpe" (Llama 3's
// regex without ignore_merges) and "tekken" (with it); llama.cpp decides ignore_merges by the name.
TEST(LlamaCppVocabFiles, PreTokenizerNamesSurviveReadAndWrite) {
  REQUIRE_LLAMACPP_MODELS();
  const fs::path vocab = LlamaCppModels::get().dir() / "ggml-vocab-llama-bpe.gguf";
  const gg::GgufReader reader(vocab);
  for (const std::string name : {"smaug-bpe", "tekken", "llama-bpe", "deepseek-llm", "deepseek-coder"}) {
    gg::GgufFile file = reader.file();
    file.set("tokenizer.ggml.pre", name);
    const auto tokenizer = qforge::exporters::tokenizers::bpe_tokenizer_from_gguf(file, vocab.string());
    EXPECT_EQ(tokenizer.options().ignore_merges, name == "tekken" || name == "llama-bpe") << name;
    gg::GgufFile written;
    qforge::exporters::tokenizers::add_gpt2_vocabulary(written, tokenizer, tokenizer.size(), std::nullopt, std::nullopt);
    EXPECT_EQ(written.find("tokenizer.ggml.pre")->get<std::string>(), name);
  }
}

TEST(LlamaCppVocabFiles, BpeTokenizerReproducesGpt2Vectors) {
  REQUIRE_LLAMACPP_MODELS();
  expect_bpe_vectors("ggml-vocab-gpt-2.gguf");
}

TEST(LlamaCppVocabFiles, SpmTokenizerReproducesLlamaSpmVectors) {
  REQUIRE_LLAMACPP_MODELS();
  expect_tokenizer_vectors("ggml-vocab-llama-spm.gguf");
}

TEST(LlamaCppVocabFiles, SpmTokenizerReproducesPhi3Vectors) {
  REQUIRE_LLAMACPP_MODELS();
  expect_tokenizer_vectors("ggml-vocab-phi-3.gguf");
}

TEST(LlamaCppVocabFiles, SpmDecodeUndoesTheWordMarkerAndByteTokens) {
  REQUIRE_LLAMACPP_MODELS();
  const fs::path vocab = LlamaCppModels::get().dir() / "ggml-vocab-llama-spm.gguf";
  const gg::GgufReader reader(vocab);
  const gg::SpmTokenizer tokenizer = gg::SpmTokenizer::from_gguf(reader.file(), vocab.string());
  // "🦙" has no token in Llama's vocabulary: it falls back to its 4 UTF-8 byte tokens.
  const std::string text = "Hello world\n\xF0\x9F\xA6\x99 ok";
  const std::vector<int32_t> ids = tokenizer.encode(text);
  EXPECT_EQ(tokenizer.decode(ids), text);
  EXPECT_EQ(tokenizer.token(ids[0]), "\xE2\x96\x81Hello");  // add_space_prefix: "▁Hello"
}

}  // namespace
