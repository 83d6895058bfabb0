// The pre-tokenizers of issue 18 against llama.cpp itself (node-llama-cpp's prebuilt binary,
// tools/llamacpp/tokenize_texts.mjs, a vocabulary-only load): the GGUF consumer of these vocabularies.
//   deepseek-llm, deepseek-coder: llama.cpp's ggml-vocab-deepseek-*.gguf on every text of the corpus of
//   tests/support/hf_tokenizers_peer.h (15,250 texts): identical ids (tokenize(text, specials = false)).
//   tekken: Llama 3's vocabulary written with tokenizer.ggml.pre "tekken". llama.cpp runs an adaptation of
//   the tokenizer.json pattern that treats every non-ASCII letter as both cases and combining marks as no
//   letters (docs/tokenizers.md §2.3); qforge runs the tokenizer.json pattern. Every ASCII-only text must give
//   the same ids; the texts that differ are counted and printed, not required to agree. Where the two
//   patterns differ is shown by probe tokens (TekkenDiffersWhereDocumented).
// The llama.cpp files come from tests/support/llamacpp_models.h; a missing node-llama-cpp fails the test.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <string>
#include <vector>

#include "exporters/gguf/gguf_reader.h"
#include "exporters/gguf/gguf_writer.h"
#include "exporters/tokenizers/byte_level.h"
#include "exporters/tokenizers/gguf_bpe.h"
#include "tests/support/hf_tokenizers_peer.h"
#include "tests/support/llamacpp_models.h"

namespace {

namespace fs = std::filesystem;
namespace gg = qforge::exporters::gguf;
namespace tk = qforge::exporters::tokenizers;
namespace hf_peer = qforge::test::hf_peer;

// One JSON array of ids per text from llama.cpp (tools/llamacpp/run.sh picks a node that loads node-llama-cpp).
std::vector<std::vector<int32_t>> llama_cpp_ids(const fs::path& vocab, const hf_peer::TempDir& dir,
                                                const std::vector<std::string>& texts) {
  const fs::path texts_json = dir.path / "texts.json";
  std::ofstream(texts_json) << nlohmann::json(texts).dump();
  const std::string command = "bash '" + std::string(QFORGE_SOURCE_DIR) + "/tools/llamacpp/run.sh' tokenize_texts.mjs '" +
                              vocab.string() + "' '" + texts_json.string() + "' 2>/dev/null";
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return {};
  std::string output;
  char buffer[1 << 16];
  for (size_t n; (n = fread(buffer, 1, sizeof buffer, pipe)) > 0;) output.append(buffer, n);
  pclose(pipe);
  std::vector<std::vector<int32_t>> ids;
  std::istringstream lines(output);
  for (std::string line; std::getline(lines, line);) ids.push_back(nlohmann::json::parse(line).get<std::vector<int32_t>>());
  return ids;
}

bool ascii(const std::string& text) {
  return std::all_of(text.begin(), text.end(), [](char c) { return static_cast<unsigned char>(c) < 0x80; });
}

// Returns the number of texts whose ids differ; every text must agree when `all_must_agree`, else every ASCII text.
size_t compare(const fs::path& vocab, const gg::GgufFile& file, bool all_must_agree) {
  const hf_peer::TempDir dir("llamacpp-pretok");
  const tk::BpeTokenizer tokenizer = tk::bpe_tokenizer_from_gguf(file, vocab.string());
  const std::vector<std::string> texts = hf_peer::corpus(1, hf_peer::kPatternTexts);
  const std::vector<std::vector<int32_t>> reference = llama_cpp_ids(vocab, dir, texts);
  EXPECT_EQ(reference.size(), texts.size()) << "llama.cpp did not tokenize the corpus (node-llama-cpp missing?)";
  if (reference.size() != texts.size()) return texts.size();
  size_t differ = 0, must_differ = 0, ascii_texts = 0, tokens = 0, shown = 0;
  for (size_t i = 0; i < texts.size(); ++i) {
    const std::vector<int32_t> ids = tokenizer.encode(texts[i], false);
    ascii_texts += ascii(texts[i]);
    tokens += reference[i].size();
    if (ids == reference[i]) continue;
    ++differ;
    if (all_must_agree || ascii(texts[i])) {
      if (must_differ++ < 20) ADD_FAILURE() << vocab.filename() << ", text " << i << ": '" << texts[i] << "'";
    } else if (shown++ < 5) {
      std::printf("differs (not ASCII): '%s'\n", texts[i].substr(0, 200).c_str());
    }
  }
  const gg::Value* pre = file.find("tokenizer.ggml.pre");
  std::printf("%s (pre %s): llama.cpp agrees on %zu of %zu texts (%zu ASCII-only; %zu llama.cpp tokens)\n",
              vocab.filename().c_str(), pre ? pre->get<std::string>().c_str() : "", texts.size() - differ, texts.size(),
              ascii_texts, tokens);
  EXPECT_EQ(must_differ, 0u) << vocab.filename();
  EXPECT_GT(texts.size(), 15000u);
  return differ;
}

TEST(LlamaCppPreTokenizers, DeepseekLlm) {
  REQUIRE_LLAMACPP_MODELS();
  const fs::path vocab = qforge::test::LlamaCppModels::get().dir() / "ggml-vocab-deepseek-llm.gguf";
  EXPECT_EQ(compare(vocab, gg::GgufReader(vocab).file(), true), 0u);
}

TEST(LlamaCppPreTokenizers, DeepseekCoder) {
  REQUIRE_LLAMACPP_MODELS();
  const fs::path vocab = qforge::test::LlamaCppModels::get().dir() / "ggml-vocab-deepseek-coder.gguf";
  EXPECT_EQ(compare(vocab, gg::GgufReader(vocab).file(), true), 0u);
}

TEST(LlamaCppPreTokenizers, TekkenAgreesOnAscii) {
  REQUIRE_LLAMACPP_MODELS();
  const fs::path llama3 = qforge::test::LlamaCppModels::get().dir() / "ggml-vocab-llama-bpe.gguf";
  gg::GgufFile file = gg::GgufReader(llama3).file();
  file.set("tokenizer.ggml.pre", "tekken");
  const hf_peer::TempDir dir("llamacpp-tekken");
  const fs::path vocab = dir.path / "ggml-vocab-tekken-llama3.gguf";
  gg::write_gguf_file(vocab, file, {});
  const size_t differ = compare(vocab, file, false);
  std::printf("tekken: %zu texts differ, all of them with non-ASCII characters\n", differ);
}

// Where the two Tekken patterns split differently, shown through whole-word tokens: Llama 3's vocabulary named
// "tekken" (ignore_merges: a word that is a token comes out as that one id) plus tokens for the probe words.
// llama.cpp keeps "ÜberÄrger" one word (a non-ASCII letter counts as both cases) and cuts the combining mark
// out of "x\u0301y"; qforge, as the tokenizer.json pattern and tokenizers.js (test_hf_pre_tokenizer_splits),
// gives "Über" "Ärger" and one word. Both keep "ÀBCdéf" whole. docs/tokenizers.md §2.3.
TEST(LlamaCppPreTokenizers, TekkenDiffersWhereDocumented) {
  REQUIRE_LLAMACPP_MODELS();
  const fs::path llama3 = qforge::test::LlamaCppModels::get().dir() / "ggml-vocab-llama-bpe.gguf";
  gg::GgufFile file = gg::GgufReader(llama3).file();
  file.set("tokenizer.ggml.pre", "tekken");
  gg::Array tokens = file.find("tokenizer.ggml.tokens")->get<gg::Array>();
  gg::Array types = file.find("tokenizer.ggml.token_type")->get<gg::Array>();
  const int32_t first = static_cast<int32_t>(tokens.elements.size());
  const std::vector<std::string> probes = {"\xC3\x9C" "ber\xC3\x84rger", "\xC3\x9C" "ber", "\xC3\x84rger", "x\xCC\x81y",
                                           "\xC3\x80" "BCd\xC3\xA9" "f"};
  for (const std::string& word : probes) {
    tokens.elements.emplace_back(tk::byte_level_encode(word));
    types.elements.emplace_back(int32_t{1});
  }
  file.set("tokenizer.ggml.tokens", tokens);
  file.set("tokenizer.ggml.token_type", types);
  const hf_peer::TempDir dir("llamacpp-tekken-probe");
  const fs::path vocab = dir.path / "ggml-vocab-tekken-probe.gguf";
  gg::write_gguf_file(vocab, file, {});
  const std::vector<std::string> texts = {probes[0], probes[3], probes[4]};
  const std::vector<std::vector<int32_t>> theirs = llama_cpp_ids(vocab, dir, texts);
  ASSERT_EQ(theirs.size(), 3u) << "llama.cpp did not tokenize (node-llama-cpp missing?)";
  const tk::BpeTokenizer ours = tk::bpe_tokenizer_from_gguf(file, vocab.string());
  EXPECT_EQ(ours.encode(texts[0], false), (std::vector<int32_t>{first + 1, first + 2}));
  EXPECT_EQ(theirs[0], (std::vector<int32_t>{first}));
  EXPECT_EQ(ours.encode(texts[1], false), (std::vector<int32_t>{first + 3}));
  EXPECT_EQ(theirs[1].size(), 3u);  // x, the mark's token, y
  EXPECT_EQ(ours.encode(texts[2], false), (std::vector<int32_t>{first + 4}));
  EXPECT_EQ(theirs[2], (std::vector<int32_t>{first + 4}));
}

}  // namespace
