#pragma once
// Token ids and the interface every text tokenizer implements.
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace qforge::data {

// uint32 holds both token-file widths (uint16 nanoGPT GPT-2 ids, uint32 llm.c Llama-3 ids) at a
// quarter of the memory of int64; windows widen to int64 IndexTensors only per batch.
using TokenIds = std::vector<uint32_t>;

class Tokenizer {
 public:
  virtual ~Tokenizer() = default;
  virtual int64_t vocab_size() const = 0;
  virtual TokenIds encode(std::string_view text) const = 0;
  // Throws std::invalid_argument naming the first id >= vocab_size() and its position.
  virtual std::string decode(const TokenIds& ids) const = 0;
};

// Throws std::invalid_argument "<tokenizer>::decode: id <id> at position <i> is outside the
// vocabulary of <n>".
[[noreturn]] void throw_id_outside_vocabulary(const char* tokenizer, uint32_t id, size_t position, int64_t vocab_size);

}  // namespace qforge::data
