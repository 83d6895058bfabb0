#include "data/tokenizer.h"

#include <stdexcept>

namespace qforge::data {

void throw_id_outside_vocabulary(const char* tokenizer, uint32_t id, size_t position, int64_t vocab_size) {
  throw std::invalid_argument(std::string(tokenizer) + "::decode: id " + std::to_string(id) + " at position " +
                              std::to_string(position) + " is outside the vocabulary of " +
                              std::to_string(vocab_size));
}

}  // namespace qforge::data
