#pragma once
// Internal to the pre-tokenizers (pre_tokenizer.h): the code point scanner the hand-coded matchers read,
// and the matchers, one per regex of a pattern. A matcher returns where the regex's match starting at
// code point i ends, or i when none starts there (a regex search then tries i + 1).
#include <cstdint>
#include <string_view>
#include <vector>

#include "exporters/tokenizers/unicode_text.h"

namespace qforge::exporters::tokenizers {

// Code points with their classes. A regex of a sequence sees one piece at a time (HF Split runs on each
// piece; llama.cpp's regex_iterator on each offset range): limit() ends the text there, so that
// lookaheads and `$` stop at the piece's end. Index size() and past read as class 0, code point 0.
class Scanner {
 public:
  explicit Scanner(std::string_view text) : points_(decode_utf8_lenient(text)) {
    classes_.reserve(points_.size());
    for (const CodePoint& p : points_) classes_.push_back(char_class(p.value));
    classes_.back() = 0;
    end_ = points_.size() - 1;
  }
  size_t length() const { return points_.size() - 1; }  // the whole text
  void limit(size_t end) { end_ = end; }
  size_t size() const { return end_; }  // the current piece's end
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
  size_t end_;
};

using Matcher = size_t (*)(const Scanner& s, size_t i);

// \s*[\r\n]+|\s+(?!\S)|\s+ at i, the tail that Llama 3, Qwen2 and Tekken share (i when i is no space).
size_t newline_or_whitespace(const Scanner& s, size_t i);

// pre_tokenizer_single.cpp: the single-regex patterns (every character starts a match).
size_t match_gpt2(const Scanner& s, size_t i);
size_t match_llama3(const Scanner& s, size_t i);
size_t match_qwen2(const Scanner& s, size_t i);
size_t match_tekken(const Scanner& s, size_t i);

// pre_tokenizer_deepseek.cpp: the regexes of DeepSeek's sequences, in order.
size_t match_newline(const Scanner& s, size_t i);  // [\r\n]
size_t match_deepseek_llm_letters(const Scanner& s, size_t i);
size_t match_deepseek_llm_punctuation(const Scanner& s, size_t i);
size_t match_trailing_whitespace(const Scanner& s, size_t i);  // \s+$
size_t match_deepseek_llm_cjk(const Scanner& s, size_t i);
size_t match_numbers(const Scanner& s, size_t i);  // \p{N}+
size_t match_letters(const Scanner& s, size_t i);  // \s?\p{L}+
size_t match_punctuation(const Scanner& s, size_t i);  // \s?\p{P}+
size_t match_deepseek_coder_cjk(const Scanner& s, size_t i);
size_t match_digit(const Scanner& s, size_t i);  // \p{N}

}  // namespace qforge::exporters::tokenizers
