#pragma once
// Character-level tokenizer as in nanoGPT's shakespeare_char: the vocabulary is the sorted set
// of distinct characters (Unicode code points of the UTF-8 text) in a corpus, and a character's
// id is its rank in that set.
#include <string>

#include "data/tokenizer.h"

namespace qforge::data {

class CharTokenizer final : public Tokenizer {
 public:
  // Vocabulary from every distinct code point of `corpus` (UTF-8).
  static CharTokenizer from_corpus(std::string_view corpus);
  // Vocabulary given explicitly (e.g. saved next to a checkpoint as vocabulary_utf8()); sorted
  // and deduplicated here so ids do not depend on the order given.
  static CharTokenizer from_vocabulary(std::string_view characters_utf8);

  int64_t vocab_size() const override { return static_cast<int64_t>(characters_.size()); }
  // A character missing from the vocabulary is an error, never silently mapped: throws
  // std::invalid_argument naming it, its code point and its character position in `text`.
  TokenIds encode(std::string_view text) const override;
  std::string decode(const TokenIds& ids) const override;

  const std::u32string& characters() const { return characters_; }
  std::string vocabulary_utf8() const;

 private:
  explicit CharTokenizer(std::u32string characters);
  std::u32string characters_;  // sorted, unique: id -> code point
};

}  // namespace qforge::data
