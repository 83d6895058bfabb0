#include "data/byte_tokenizer.h"

namespace qforge::data {

TokenIds ByteTokenizer::encode(std::string_view text) const {
  TokenIds ids(text.size());
  for (size_t i = 0; i < text.size(); ++i) ids[i] = static_cast<unsigned char>(text[i]);
  return ids;
}

std::string ByteTokenizer::decode(const TokenIds& ids) const {
  std::string text(ids.size(), '\0');
  for (size_t i = 0; i < ids.size(); ++i) {
    if (ids[i] > 255) throw_id_outside_vocabulary("ByteTokenizer", ids[i], i, vocab_size());
    text[i] = static_cast<char>(ids[i]);
  }
  return text;
}

}  // namespace qforge::data
