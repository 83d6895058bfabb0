#pragma once
#include <string>

#include "data/tokenizer.h"

namespace qforge::data {

// Bytes as tokens: id = byte value, 256 ids, nothing unknown. Text that is not UTF-8 still
// round-trips, at the price of multi-byte characters taking several positions.
class ByteTokenizer final : public Tokenizer {
 public:
  int64_t vocab_size() const override { return 256; }
  TokenIds encode(std::string_view text) const override;
  std::string decode(const TokenIds& ids) const override;
};

}  // namespace qforge::data
