#include "data/char_tokenizer.h"

#include <algorithm>
#include <stdexcept>

#include "data/utf8.h"

namespace qforge::data {
CharTokenizer::CharTokenizer(std::u32string characters) : characters_(std::move(characters)) {
  std::sort(characters_.begin(), characters_.end());
  characters_.erase(std::unique(characters_.begin(), characters_.end()), characters_.end());
}

CharTokenizer CharTokenizer::from_corpus(std::string_view corpus) {
  return CharTokenizer(utf8_to_code_points(corpus));
}

CharTokenizer CharTokenizer::from_vocabulary(std::string_view characters_utf8) {
  return CharTokenizer(utf8_to_code_points(characters_utf8));
}

TokenIds CharTokenizer::encode(std::string_view text) const {
  const std::u32string code_points = utf8_to_code_points(text);
  TokenIds ids(code_points.size());
  for (size_t i = 0; i < code_points.size(); ++i) {
    const auto found = std::lower_bound(characters_.begin(), characters_.end(), code_points[i]);
    if (found == characters_.end() || *found != code_points[i]) {
      throw std::invalid_argument("CharTokenizer::encode: character " + describe_code_point(code_points[i]) +
                                  " at position " + std::to_string(i) + " is not in the vocabulary of " +
                                  std::to_string(characters_.size()) + " characters");
    }
    ids[i] = static_cast<uint32_t>(found - characters_.begin());
  }
  return ids;
}

std::string CharTokenizer::decode(const TokenIds& ids) const {
  std::u32string code_points(ids.size(), U'\0');
  for (size_t i = 0; i < ids.size(); ++i) {
    if (ids[i] >= characters_.size()) throw_id_outside_vocabulary("CharTokenizer", ids[i], i, vocab_size());
    code_points[i] = characters_[ids[i]];
  }
  return code_points_to_utf8(code_points);
}

std::string CharTokenizer::vocabulary_utf8() const { return code_points_to_utf8(characters_); }

}  // namespace qforge::data
