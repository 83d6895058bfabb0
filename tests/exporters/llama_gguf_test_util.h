#pragma once
// What the Llama <-> GGUF tests build their files from: a vocabulary of one token per character and
// the bytes of an exported LlamaGguf (serialize_gguf over its tensor data, docs/gguf.md §1).
#include <cstddef>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "exporters/gguf/gguf_writer.h"
#include "exporters/gguf/llama_gguf_export.h"

namespace qforge::testing {

inline std::vector<std::string> char_vocab(std::string_view chars) {
  std::vector<std::string> v;
  for (char c : chars) v.emplace_back(1, c);
  return v;
}

inline std::vector<std::byte> bytes_of(const exporters::gguf::LlamaGguf& g) {
  std::vector<std::span<const std::byte>> spans(g.tensor_bytes.begin(), g.tensor_bytes.end());
  return exporters::gguf::serialize_gguf(g.file, spans);
}

}  // namespace qforge::testing
