#pragma once
// The regex pre-tokenizers of byte-level BPE (docs/tokenizers.md §2), written out as hand-coded matchers (the same
// decision llama.cpp made in src/unicode.cpp, unicode_regex_split_custom_gpt2/_llama3) instead of a
// general regex engine: each pattern is an ordered alternation, and at every position the first
// alternative that matches (with the backtracking a regex engine would do) gives the next piece.
//
//   kGpt2   's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
//           (GPT-2's encoder.py; HF ByteLevel with use_regex = true; llama.cpp pre "gpt-2")
//   kLlama3 (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|
//           \s*[\r\n]+|\s+(?!\S)|\s+      (Llama 3's tokenizer.json Split; llama.cpp pre "llama-bpe", "smaug-bpe")
//   kQwen2  the Llama 3 pattern with \p{N} instead of \p{N}{1,3}   (llama.cpp pre "qwen2")
//   kDeepseekLlm, kDeepseekCoder  a SEQUENCE of regexes (llama.cpp pre "deepseek-llm", "deepseek-coder"):
//           each splits every piece the previous ones left, its matches and the text between them
//           becoming pieces (HF Sequence[Split(behavior Isolated)...]; llama.cpp unicode_regex_split)
//   kTekken Mistral-Nemo's cased-word pattern (llama.cpp pre "tekken"; docs/tokenizers.md §2)
//
// \p{L}, \p{N}, \p{P}, \p{M}, \s and the case classes are those of unicode_text.h. The contractions of
// kLlama3/kQwen2 are case-insensitive for ASCII letters only (llama.cpp does the same).
#include <cstdint>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace qforge::exporters::tokenizers {

enum class PreTokenizer { kGpt2, kLlama3, kQwen2, kDeepseekLlm, kDeepseekCoder, kTekken };

// "GPT-2", "Llama 3", ... for messages.
const char* pre_tokenizer_display_name(PreTokenizer kind);
// The regexes as Hugging Face tokenizer.json files spell them (the Split pattern.Regex of each step of the
// pre_tokenizer Sequence, in order; one for GPT-2, Llama 3, Qwen2, Tekken), and back.
const std::vector<std::string>& pre_tokenizer_regexes(PreTokenizer kind);
std::optional<PreTokenizer> pre_tokenizer_from_regexes(const std::vector<std::string>& regexes);
// "GPT-2, Llama 3, ..." (every kind), for messages.
std::string pre_tokenizer_display_names();

// One tokenizer.ggml.pre name llama.cpp gives a pattern qforge implements (llama-vocab.cpp,
// llama_vocab::impl::load): the name also decides ignore_merges there.
struct GgufPreTokenizerName {
  const char* name;
  PreTokenizer kind;
  bool ignore_merges;
};
std::span<const GgufPreTokenizerName> gguf_pre_tokenizer_names();
std::optional<GgufPreTokenizerName> pre_tokenizer_from_gguf_name(std::string_view name);
// The first name of `kind` with that ignore_merges, else the first name of `kind` (llama.cpp then
// disagrees on ignore_merges: compare the result's ignore_merges).
GgufPreTokenizerName pre_tokenizer_gguf_name(PreTokenizer kind, bool ignore_merges);
// "gpt-2, llama-bpe, ..." (every name of the table), for messages.
std::string gguf_pre_tokenizer_name_list();

// [begin, end) byte ranges of `text`, in order, covering it exactly.
std::vector<std::pair<size_t, size_t>> pre_tokenize(std::string_view text, PreTokenizer kind);

}  // namespace qforge::exporters::tokenizers
