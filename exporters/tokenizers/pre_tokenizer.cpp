// Hand-coded pre-tokenizer regexes; the patterns and the reason for hand-coding are in pre_tokenizer.h.
#include "exporters/tokenizers/pre_tokenizer.h"

#include <array>

#include "exporters/tokenizers/unicode_text.h"

namespace qforge::exporters::tokenizers {
namespace {

const std::array<std::string, 3> kRegexes = {
    R"('s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+)",
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)",
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)",
};

// Code points with their classes; index n (past the end) reads as class 0, code point 0.
class Scanner {
 public:
  explicit Scanner(std::string_view text) : points_(decode_utf8_lenient(text)) {
    classes_.reserve(points_.size());
    for (const CodePoint& p : points_) classes_.push_back(char_class(p.value));
    classes_.back() = 0;
  }
  size_t size() const { return points_.size() - 1; }
  size_t offset(size_t i) const { return points_[i].offset; }
  char32_t at(size_t i) const { return i < size() ? points_[i].value : 0; }
  bool is(size_t i, uint8_t cls) const { return i < size() && (classes_[i] & cls); }
  // [^\s\p{L}\p{N}]
  bool is_other(size_t i) const { return i < size() && !(classes_[i] & (kLetter | kNumber | kWhitespace)); }
  size_t run(size_t i, uint8_t cls) const {
    while (is(i, cls)) ++i;
    return i;
  }
  size_t other_run(size_t i) const {
    while (is_other(i)) ++i;
    return i;
  }

 private:
  std::vector<CodePoint> points_;
  std::vector<uint8_t> classes_;
};

char32_t ascii_lower(char32_t c) { return c >= 'A' && c <= 'Z' ? c + 32 : c; }

// 's|'t|'re|'ve|'m|'ll|'d at i: the end, or i when none matches.
size_t contraction(const Scanner& s, size_t i, bool ignore_case) {
  if (s.at(i) != '\'') return i;
  const auto letter = [&](size_t k) { return ignore_case ? ascii_lower(s.at(k)) : s.at(k); };
  const char32_t a = letter(i + 1);
  if (a == 's' || a == 't' || a == 'm' || a == 'd') return i + 2;
  const char32_t b = letter(i + 2);
  if ((a == 'r' && b == 'e') || (a == 'v' && b == 'e') || (a == 'l' && b == 'l')) return i + 3;
  return i;
}

// \s+(?!\S)|\s+ at a whitespace character i: the greedy run backs off one character when a
// non-space follows it, unless that would leave it empty (then the plain \s+ takes the whole run).
size_t whitespace_tail(const Scanner& s, size_t i) {
  const size_t end = s.run(i, kWhitespace);
  if (end == s.size() || end - i == 1) return end;
  return end - 1;
}

size_t match_gpt2(const Scanner& s, size_t i) {
  if (const size_t end = contraction(s, i, false); end > i) return end;
  const size_t j = s.at(i) == ' ' ? i + 1 : i;  // ' ?' then the class; ' ' itself is in no class below
  if (s.is(j, kLetter)) return s.run(j, kLetter);
  if (s.is(j, kNumber)) return s.run(j, kNumber);
  if (s.is_other(j)) return s.other_run(j);
  return whitespace_tail(s, i);
}

size_t match_llama3(const Scanner& s, size_t i, size_t max_digits) {
  if (const size_t end = contraction(s, i, true); end > i) return end;
  // [^\r\n\p{L}\p{N}]?\p{L}+
  if (s.is(i, kLetter)) return s.run(i, kLetter);
  if (i < s.size() && !s.is(i, kNewline | kLetter | kNumber) && s.is(i + 1, kLetter)) return s.run(i + 1, kLetter);
  // \p{N}{1,3} (Llama 3) or \p{N} (Qwen2)
  if (s.is(i, kNumber)) {
    size_t end = i;
    while (end - i < max_digits && s.is(end, kNumber)) ++end;
    return end;
  }
  // ' ?[^\s\p{L}\p{N}]+[\r\n]*'
  const size_t j = s.at(i) == ' ' ? i + 1 : i;
  if (s.is_other(j)) return s.run(s.other_run(j), kNewline);
  // \s*[\r\n]+ : \s* gives back characters until [\r\n] can start, i.e. the match ends right after
  // the last newline of the whitespace run (that newline's run ends there, as a non-space follows).
  const size_t end = s.run(i, kWhitespace);
  for (size_t k = end; k > i; --k)
    if (s.is(k - 1, kNewline)) return k;
  return whitespace_tail(s, i);
}

}  // namespace

const std::string& pre_tokenizer_regex(PreTokenizer kind) { return kRegexes[static_cast<size_t>(kind)]; }

std::optional<PreTokenizer> pre_tokenizer_from_regex(std::string_view regex) {
  for (size_t k = 0; k < kRegexes.size(); ++k)
    if (regex == kRegexes[k]) return static_cast<PreTokenizer>(k);
  return std::nullopt;
}

std::optional<PreTokenizer> pre_tokenizer_from_gguf_name(std::string_view name) {
  if (name == "gpt-2") return PreTokenizer::kGpt2;
  if (name == "llama-bpe" || name == "llama3" || name == "llama-v3") return PreTokenizer::kLlama3;
  if (name == "qwen2") return PreTokenizer::kQwen2;
  return std::nullopt;
}

const char* pre_tokenizer_gguf_name(PreTokenizer kind) {
  switch (kind) {
    case PreTokenizer::kGpt2: return "gpt-2";
    case PreTokenizer::kLlama3: return "llama-bpe";
    case PreTokenizer::kQwen2: return "qwen2";
  }
  return "";
}

std::vector<std::pair<size_t, size_t>> pre_tokenize(std::string_view text, PreTokenizer kind) {
  const Scanner s(text);
  std::vector<std::pair<size_t, size_t>> pieces;
  for (size_t i = 0; i < s.size();) {
    size_t end = kind == PreTokenizer::kGpt2     ? match_gpt2(s, i)
                 : kind == PreTokenizer::kLlama3 ? match_llama3(s, i, 3)
                                                 : match_llama3(s, i, 1);
    if (end <= i) end = i + 1;  // unreachable: every character is in one of the classes above
    pieces.emplace_back(s.offset(i), s.offset(end));
    i = end;
  }
  return pieces;
}

}  // namespace qforge::exporters::tokenizers
