#pragma once
// The regex pre-tokenizers of byte-level BPE (docs/tokenizers.md §2), written out as hand-coded matchers (the same
// decision llama.cpp made in src/unicode.cpp, unicode_regex_split_custom_gpt2/_llama3) instead of a
// general regex engine: each pattern is an ordered alternation, and at every position the first
// alternative that matches (with the backtracking a regex engine would do) gives the next piece.
//
//   kGpt2   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
//           (GPT-2's encoder.py; HF ByteLevel with use_regex = true; llama.cpp pre "gpt-2")
//   kLlama3 (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|
//           \s*[\r\n]+|\s+(?!\S)|\s+      (Llama 3's tokenizer.json Split; llama.cpp pre "llama-bpe")
//   kQwen2  the Llama 3 pattern with \p{N} instead of \p{N}{1,3}   (llama.cpp pre "qwen2")
//
// \p{L}, \p{N} and \s are the Unicode classes of unicode_text.h. The contractions of kLlama3/kQwen2
// are case-insensitive for ASCII letters only (llama.cpp does the same).
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace qforge::exporters::tokenizers {

enum class PreTokenizer { kGpt2, kLlama3, kQwen2 };

// The regex text as Hugging Face tokenizer.json files spell it (Split pattern.Regex), and back.
const std::string& pre_tokenizer_regex(PreTokenizer kind);
std::optional<PreTokenizer> pre_tokenizer_from_regex(std::string_view regex);
// llama.cpp's tokenizer.ggml.pre names: "gpt-2", "llama-bpe" (also "llama3", "llama-v3"), "qwen2".
std::optional<PreTokenizer> pre_tokenizer_from_gguf_name(std::string_view name);
const char* pre_tokenizer_gguf_name(PreTokenizer kind);

// [begin, end) byte ranges of `text`, in order, covering it exactly.
std::vector<std::pair<size_t, size_t>> pre_tokenize(std::string_view text, PreTokenizer kind);

}  // namespace qforge::exporters::tokenizers
