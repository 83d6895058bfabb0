// qforge's SentencePiece ("llama") vocabulary for GGUF files (docs/gguf.md §4).
#include "exporters/gguf/llama_vocabulary.h"

#include <cctype>
#include <cstdio>
#include <stdexcept>
#include <unordered_set>

namespace qforge::exporters::gguf {
namespace {

std::string byte_token(int b) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "<0x%02X>", b);
  return buf;
}

bool is_byte_token(const std::string& t) {
  return t.size() == 6 && t.rfind("<0x", 0) == 0 && t[5] == '>' && std::isxdigit(static_cast<unsigned char>(t[3])) &&
         std::isxdigit(static_cast<unsigned char>(t[4])) && !std::islower(static_cast<unsigned char>(t[3])) &&
         !std::islower(static_cast<unsigned char>(t[4]));
}

// SentencePiece writes ' ' as U+2581 (LOWER ONE EIGHTH BLOCK), which llama.cpp's SPM tokenizer
// substitutes for spaces before lookup.
std::string spm_escape(const std::string& token) {
  std::string out;
  for (char c : token) {
    if (c == ' ') out += "\xE2\x96\x81";
    else out += c;
  }
  return out;
}

}  // namespace

std::vector<std::string> llama_gguf_tokens(const std::vector<std::string>& vocabulary) {
  std::vector<std::string> tokens;
  std::unordered_set<std::string> seen;
  for (size_t i = 0; i < vocabulary.size(); ++i) {
    std::string t = spm_escape(vocabulary[i]);
    if (t.empty()) throw std::invalid_argument("gguf llama export: token " + std::to_string(i) + " is empty");
    if (!seen.insert(t).second)
      throw std::invalid_argument("gguf llama export: token " + std::to_string(i) + " '" + t + "' is a duplicate");
    tokens.push_back(std::move(t));
  }
  auto append = [&](const std::string& t) {
    if (seen.insert(t).second) tokens.push_back(t);
  };
  append("<unk>");
  append("<s>");
  append("</s>");
  for (int b = 0; b < 256; ++b) append(byte_token(b));
  return tokens;
}

void add_llama_vocabulary(GgufFile& file, const std::vector<std::string>& tokens) {
  std::vector<float> scores(tokens.size(), 0.0f);
  std::vector<int32_t> types(tokens.size(), 1);
  uint32_t unk = 0, bos = 0, eos = 0;
  for (size_t i = 0; i < tokens.size(); ++i) {
    const std::string& t = tokens[i];
    if (t == "<unk>") types[i] = 2, unk = static_cast<uint32_t>(i);
    else if (t == "<s>") types[i] = 3, bos = static_cast<uint32_t>(i);
    else if (t == "</s>") types[i] = 3, eos = static_cast<uint32_t>(i);
    else if (is_byte_token(t)) types[i] = 6;
    else scores[i] = -static_cast<float>(i);  // SPM merges prefer higher scores: earlier ids win ties
  }
  file.set("tokenizer.ggml.model", "llama");
  file.set("tokenizer.ggml.tokens", make_array(tokens));
  file.set("tokenizer.ggml.scores", make_array(scores));
  file.set("tokenizer.ggml.token_type", make_array(types));
  file.set("tokenizer.ggml.unknown_token_id", unk);
  file.set("tokenizer.ggml.bos_token_id", bos);
  file.set("tokenizer.ggml.eos_token_id", eos);
  file.set("tokenizer.ggml.add_bos_token", false);
  file.set("tokenizer.ggml.add_eos_token", false);
  file.set("tokenizer.ggml.add_space_prefix", false);
}

}  // namespace qforge::exporters::gguf
