// The single-regex pre-tokenizers (GPT-2, Llama 3, Qwen2, Tekken) as hand-coded matchers; the patterns are in
// pre_tokenizer.cpp's table and docs/tokenizers.md §2, the backtracking cases are commented where they happen.
#include "exporters/tokenizers/pre_tokenizer_match.h"

namespace qforge::exporters::tokenizers {
namespace {

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

size_t match_llama3_like(const Scanner& s, size_t i, size_t max_digits) {
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
  return newline_or_whitespace(s, i);
}

// Tekken's case classes: [\p{Lu}\p{Lt}\p{Lm}\p{Lo}\p{M}] and [\p{Ll}\p{Lm}\p{Lo}\p{M}] (Lm, Lo and M are in both).
bool upper_like(const Scanner& s, size_t i) { return s.is(i, kMark) || (s.is(i, kLetter) && !s.is(i, kLower)); }
bool lower_like(const Scanner& s, size_t i) { return s.is(i, kMark) || (s.is(i, kLetter) && !s.is(i, kUpper)); }

// [U]*[W]+ at j (U, W the classes above): the greedy U* gives back characters until W+ can start, so
// the match takes the longest U run whose next character is in W, then W's whole run. j when none.
size_t upper_then_lower(const Scanner& s, size_t j) {
  size_t k = j;
  while (upper_like(s, k)) ++k;
  for (size_t p = k + 1; p-- > j;) {
    if (!lower_like(s, p)) continue;
    while (lower_like(s, p)) ++p;
    return p;
  }
  return j;
}

// [U]+[W]* at j; j when no U starts there.
size_t upper_then_any(const Scanner& s, size_t j) {
  size_t k = j;
  while (upper_like(s, k)) ++k;
  if (k == j) return j;
  while (lower_like(s, k)) ++k;
  return k;
}

}  // namespace

size_t newline_or_whitespace(const Scanner& s, size_t i) {
  // \s*[\r\n]+ : \s* gives back characters until [\r\n] can start, i.e. the match ends right after
  // the last newline of the whitespace run (that newline's run ends there, as a non-space follows).
  const size_t end = s.run(i, kWhitespace);
  for (size_t k = end; k > i; --k)
    if (s.is(k - 1, kNewline)) return k;
  if (end == i) return i;
  return whitespace_tail(s, i);
}

size_t match_gpt2(const Scanner& s, size_t i) {
  if (const size_t end = contraction(s, i, false); end > i) return end;
  const size_t j = s.at(i) == ' ' ? i + 1 : i;  // ' ?' then the class; ' ' itself is in no class below
  if (s.is(j, kLetter)) return s.run(j, kLetter);
  if (s.is(j, kNumber)) return s.run(j, kNumber);
  if (s.is_other(j)) return s.other_run(j);
  return s.is(i, kWhitespace) ? whitespace_tail(s, i) : i;
}

size_t match_llama3(const Scanner& s, size_t i) { return match_llama3_like(s, i, 3); }
size_t match_qwen2(const Scanner& s, size_t i) { return match_llama3_like(s, i, 1); }

// [^\r\n\p{L}\p{N}]?U*W+ | [^\r\n\p{L}\p{N}]?U+W* | \p{N} | ' ?[^\s\p{L}\p{N}]+[\r\n/]*' | the whitespace tail.
// Each cased alternative first tries with the optional leading character, then without it (a mark, in
// U and W but not in \p{L}, can be either).
size_t match_tekken(const Scanner& s, size_t i) {
  const bool lead = i < s.size() && !s.is(i, kNewline | kLetter | kNumber);
  for (const auto word : {upper_then_lower, upper_then_any}) {
    if (lead)
      if (const size_t end = word(s, i + 1); end > i + 1) return end;
    if (const size_t end = word(s, i); end > i) return end;
  }
  if (s.is(i, kNumber)) return i + 1;
  const size_t j = s.at(i) == ' ' ? i + 1 : i;
  if (s.is_other(j)) {
    size_t end = s.other_run(j);
    while (s.is(end, kNewline) || (end < s.size() && s.at(end) == '/')) ++end;
    return end;
  }
  return newline_or_whitespace(s, i);
}

}  // namespace qforge::exporters::tokenizers
