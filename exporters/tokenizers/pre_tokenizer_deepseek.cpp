// The regexes of DeepSeek LLM's and DeepSeek Coder's pre-tokenizer sequences (pre_tokenizer.cpp's table,
// docs/tokenizers.md §2) as matchers. The explicit character classes of DeepSeek LLM ([A-Za-zµÀ-Ö...],
// [!-/:-~...], [一-龥ࠀ-一가-퟿]) are read from the table's regex text itself, so the ranges live in one place.
#include <algorithm>
#include <stdexcept>
#include <string>

#include "exporters/tokenizers/pre_tokenizer.h"
#include "exporters/tokenizers/pre_tokenizer_match.h"

namespace qforge::exporters::tokenizers {
namespace {

// A bracket expression of literal code points and ranges ("[a-zµÀ-Ö]"), as merged sorted ranges.
class CodePointSet {
 public:
  // The first [...] of `regex`: no escapes, no negation (none of DeepSeek's classes has them).
  explicit CodePointSet(const std::string& regex) {
    const size_t open = regex.find('['), close = regex.rfind(']');
    if (open == std::string::npos || close == std::string::npos || close < open)
      throw std::logic_error("pre-tokenizer: no character class in '" + regex + "'");
    std::vector<CodePoint> points = decode_utf8_lenient(std::string_view(regex).substr(open + 1, close - open - 1));
    points.pop_back();  // the sentinel
    for (size_t k = 0; k < points.size(); ++k) {
      const bool range = k + 2 < points.size() && points[k + 1].value == '-';
      ranges_.emplace_back(points[k].value, points[range ? k + 2 : k].value);
      if (range) k += 2;
    }
    std::sort(ranges_.begin(), ranges_.end());
    std::vector<std::pair<char32_t, char32_t>> merged;
    for (const auto& r : ranges_) {
      if (!merged.empty() && r.first <= merged.back().second + 1) merged.back().second = std::max(merged.back().second, r.second);
      else merged.push_back(r);
    }
    ranges_ = std::move(merged);
  }
  bool contains(char32_t c) const {
    auto it = std::upper_bound(ranges_.begin(), ranges_.end(), std::make_pair(c, char32_t(0xFFFFFFFF)));
    return it != ranges_.begin() && c <= std::prev(it)->second;
  }

 private:
  std::vector<std::pair<char32_t, char32_t>> ranges_;
};

const CodePointSet& set_of(PreTokenizer kind, size_t step) {
  static const CodePointSet llm_letters(pre_tokenizer_regexes(PreTokenizer::kDeepseekLlm)[1]);
  static const CodePointSet llm_punctuation(pre_tokenizer_regexes(PreTokenizer::kDeepseekLlm)[2]);
  static const CodePointSet llm_cjk(pre_tokenizer_regexes(PreTokenizer::kDeepseekLlm)[4]);
  static const CodePointSet coder_cjk(pre_tokenizer_regexes(PreTokenizer::kDeepseekCoder)[3]);
  if (kind == PreTokenizer::kDeepseekCoder) return coder_cjk;
  return step == 1 ? llm_letters : step == 2 ? llm_punctuation : llm_cjk;
}

template <class In>
size_t run_of(const Scanner& s, size_t i, const In& in) {
  while (i < s.size() && in(i)) ++i;
  return i;
}

// \s?X+ : the optional space is taken when X follows it; otherwise X+ must start at i itself (which
// matters when a space is in X: DeepSeek LLM's punctuation class holds U+3000, the ideographic space).
template <class In>
size_t space_then_run(const Scanner& s, size_t i, const In& in) {
  const auto inside = [&](size_t k) { return k < s.size() && in(k); };
  const size_t j = s.is(i, kWhitespace) && inside(i + 1) ? i + 1 : i;
  return inside(j) ? run_of(s, j, inside) : i;
}

size_t set_run(const Scanner& s, size_t i, const CodePointSet& set) {
  return run_of(s, i, [&](size_t k) { return set.contains(s.at(k)); });
}

}  // namespace

size_t match_newline(const Scanner& s, size_t i) { return s.is(i, kNewline) ? i + 1 : i; }

size_t match_deepseek_llm_letters(const Scanner& s, size_t i) {
  const CodePointSet& set = set_of(PreTokenizer::kDeepseekLlm, 1);
  return space_then_run(s, i, [&](size_t k) { return set.contains(s.at(k)); });
}

size_t match_deepseek_llm_punctuation(const Scanner& s, size_t i) {
  const CodePointSet& set = set_of(PreTokenizer::kDeepseekLlm, 2);
  return space_then_run(s, i, [&](size_t k) { return set.contains(s.at(k)); });
}

// \s+$ : a whitespace run that reaches the end of the piece ($ is the piece's end: the pieces hold no
// '\n' after the first regex, so Oniguruma's end-of-line $ and JavaScript's end-of-input $ agree).
size_t match_trailing_whitespace(const Scanner& s, size_t i) {
  const size_t end = s.run(i, kWhitespace);
  return end > i && end == s.size() ? end : i;
}

size_t match_deepseek_llm_cjk(const Scanner& s, size_t i) { return set_run(s, i, set_of(PreTokenizer::kDeepseekLlm, 4)); }
size_t match_deepseek_coder_cjk(const Scanner& s, size_t i) { return set_run(s, i, set_of(PreTokenizer::kDeepseekCoder, 3)); }

size_t match_numbers(const Scanner& s, size_t i) { return s.run(i, kNumber); }
size_t match_digit(const Scanner& s, size_t i) { return s.is(i, kNumber) ? i + 1 : i; }

size_t match_letters(const Scanner& s, size_t i) {
  return space_then_run(s, i, [&](size_t k) { return s.is(k, kLetter); });
}

size_t match_punctuation(const Scanner& s, size_t i) {
  return space_then_run(s, i, [&](size_t k) { return s.is(k, kPunctuation); });
}

}  // namespace qforge::exporters::tokenizers
