// The pre-tokenizer tables (kind <-> regexes <-> llama.cpp names) and the application of a pattern's regexes in
// sequence; the matchers are in pre_tokenizer_single.cpp and pre_tokenizer_deepseek.cpp.
#include "exporters/tokenizers/pre_tokenizer.h"

#include <array>

#include "exporters/tokenizers/pre_tokenizer_match.h"

namespace qforge::exporters::tokenizers {
namespace {

struct Pattern {
  PreTokenizer kind;
  const char* display_name;
  std::vector<std::string> regexes;  // HF spelling; "[\r\n]" holds the CR and LF characters themselves
  std::vector<Matcher> matchers;     // one per regex
};

// The DeepSeek sequences are llama.cpp's LLAMA_VOCAB_PRE_TYPE_DEEPSEEK_LLM / _CODER regex lists
// (src/llama-vocab.cpp), the Split steps of the models' tokenizer.json; Tekken's is the original
// tokenizer.json pattern that llama-vocab.cpp quotes in a comment before its adaptation (docs/tokenizers.md §2).
const std::array<Pattern, 6>& patterns() {
  static const std::array<Pattern, 6> table = {{
      {PreTokenizer::kGpt2, "GPT-2",
       {R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)"}, {match_gpt2}},
      {PreTokenizer::kLlama3, "Llama 3",
       {R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)"},
       {match_llama3}},
      {PreTokenizer::kQwen2, "Qwen2",
       {R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)"},
       {match_qwen2}},
      {PreTokenizer::kDeepseekLlm, "DeepSeek LLM",
       {"[\r\n]",
        R"(\s?[A-Za-zµÀ-ÖØ-öø-ƺƼ-ƿǄ-ʓʕ-ʯͰ-ͳͶͷͻ-ͽͿΆΈ-ΊΌΎ-ΡΣ-ϵϷ-ҁҊ-ԯԱ-ՖႠ-ჅᎠ-Ᏽᏸ-ᏽᲐ-ᲺᲽ-Ჿᴀ-ᴫᵫ-ᵷᵹ-ᶚḀ-ἕἘ-Ἕἠ-ὅὈ-Ὅὐ-ὗὙὛὝὟ-ώᾀ-ᾴᾶ-ᾼιῂ-ῄῆ-ῌῐ-ΐῖ-Ίῠ-Ῥῲ-ῴῶ-ῼℂℇℊ-ℓℕℙ-ℝℤΩℨK-ℭℯ-ℴℹℼ-ℿⅅ-ⅉⅎↃↄⰀ-ⱻⱾ-ⳤⳫ-ⳮⳲⳳꙀ-ꙭꚀ-ꚛꜢ-ꝯꝱ-ꞇꞋ-ꞎꭰ-ꮿﬀ-ﬆﬓ-ﬗＡ-Ｚａ-ｚ𐐀-𐑏𐒰-𐓓𐓘-𐓻𐲀-𐲲𐳀-𐳲𑢠-𑣟𞤀-𞥃]+)",
        R"(\s?[!-/:-~！-／：-～‘-‟　-。]+)", R"(\s+$)", "[一-龥ࠀ-一가-퟿]+", R"(\p{N}+)"},
       {match_newline, match_deepseek_llm_letters, match_deepseek_llm_punctuation, match_trailing_whitespace,
        match_deepseek_llm_cjk, match_numbers}},
      {PreTokenizer::kDeepseekCoder, "DeepSeek Coder",
       {"[\r\n]", R"(\s?\p{L}+)", R"(\s?\p{P}+)", "[一-龥ࠀ-一가-퟿]+", R"(\p{N})"},
       {match_newline, match_letters, match_punctuation, match_deepseek_coder_cjk, match_digit}},
      {PreTokenizer::kTekken, "Tekken",
       {R"([^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]*[\p{Ll}\p{Lm}\p{Lo}\p{M}]+|[^\r\n\p{L}\p{N}]?[\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}]+[\p{Ll}\p{Lm}\p{Lo}\p{M}]*|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n/]*|\s*[\r\n]+|\s+(?!\S)|\s+)"},
       {match_tekken}},
  }};
  return table;
}

const Pattern& pattern(PreTokenizer kind) { return patterns()[static_cast<size_t>(kind)]; }

// llama_vocab::impl::load's tokenizer_pre branches for these patterns; "smaug-bpe" has Llama 3's regex
// (LLAMA_VOCAB_PRE_TYPE_SMAUG shares LLAMA3's regex_exprs) but not its ignore_merges.
constexpr std::array<GgufPreTokenizerName, 9> kGgufNames = {{
    {"gpt-2", PreTokenizer::kGpt2, false},
    {"llama-bpe", PreTokenizer::kLlama3, true},
    {"llama3", PreTokenizer::kLlama3, true},
    {"llama-v3", PreTokenizer::kLlama3, true},
    {"smaug-bpe", PreTokenizer::kLlama3, false},
    {"qwen2", PreTokenizer::kQwen2, false},
    {"deepseek-llm", PreTokenizer::kDeepseekLlm, false},
    {"deepseek-coder", PreTokenizer::kDeepseekCoder, false},
    {"tekken", PreTokenizer::kTekken, true},
}};

// One regex over the cut points `cuts` (ascending code point indices, first 0, last the text's length):
// inside each piece, a match and the text before it become pieces (HF Split behavior "Isolated";
// llama.cpp unicode_regex_split_stl), and the rest after the last match one piece.
std::vector<size_t> split_pieces(Scanner& s, const std::vector<size_t>& cuts, Matcher match) {
  std::vector<size_t> out = {0};
  for (size_t k = 1; k < cuts.size(); ++k) {
    const size_t begin = cuts[k - 1], end = cuts[k];
    s.limit(end);
    for (size_t i = begin; i < end;) {
      const size_t stop = match(s, i);
      if (stop <= i) {
        ++i;
        continue;
      }
      if (i > out.back()) out.push_back(i);
      out.push_back(stop);
      i = stop;
    }
    if (end > out.back()) out.push_back(end);
  }
  return out;
}

}  // namespace

const char* pre_tokenizer_display_name(PreTokenizer kind) { return pattern(kind).display_name; }

const std::vector<std::string>& pre_tokenizer_regexes(PreTokenizer kind) { return pattern(kind).regexes; }

std::optional<PreTokenizer> pre_tokenizer_from_regexes(const std::vector<std::string>& regexes) {
  for (const Pattern& p : patterns())
    if (regexes == p.regexes) return p.kind;
  return std::nullopt;
}

std::string pre_tokenizer_display_names() {
  std::string out;
  for (const Pattern& p : patterns()) out += (out.empty() ? "" : ", ") + std::string(p.display_name);
  return out;
}

std::span<const GgufPreTokenizerName> gguf_pre_tokenizer_names() { return kGgufNames; }

std::optional<GgufPreTokenizerName> pre_tokenizer_from_gguf_name(std::string_view name) {
  for (const GgufPreTokenizerName& row : kGgufNames)
    if (name == row.name) return row;
  return std::nullopt;
}

GgufPreTokenizerName pre_tokenizer_gguf_name(PreTokenizer kind, bool ignore_merges) {
  const GgufPreTokenizerName* first = nullptr;
  for (const GgufPreTokenizerName& row : kGgufNames) {
    if (row.kind != kind) continue;
    if (row.ignore_merges == ignore_merges) return row;
    if (first == nullptr) first = &row;
  }
  return *first;  // every kind has a row
}

std::string gguf_pre_tokenizer_name_list() {
  std::string out;
  for (const GgufPreTokenizerName& row : kGgufNames) out += (out.empty() ? "" : ", ") + std::string(row.name);
  return out;
}

std::vector<std::pair<size_t, size_t>> pre_tokenize(std::string_view text, PreTokenizer kind) {
  Scanner s(text);
  std::vector<size_t> cuts = {0};
  if (s.length() > 0) cuts.push_back(s.length());
  for (const Matcher match : pattern(kind).matchers) cuts = split_pieces(s, cuts, match);
  std::vector<std::pair<size_t, size_t>> pieces;
  pieces.reserve(cuts.size());
  for (size_t k = 1; k < cuts.size(); ++k) pieces.emplace_back(s.offset(cuts[k - 1]), s.offset(cuts[k]));
  return pieces;
}

}  // namespace qforge::exporters::tokenizers
