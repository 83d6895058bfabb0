#pragma once
// llama.cpp GGUF (arch "llama") -> LlamaForCausalLM: the inverse of llama_gguf_export.h.
// Config from the llama.* metadata (vocab_size = token_embd rows), every tensor dequantized with the
// ggml codecs (F32, F16, BF16, Q8_0, Q5_0, Q4_K, Q6_K, IQ4_NL), Q/K rows un-permuted back to HF's
// half-split rope, tied embeddings when output.weight is absent (docs/gguf.md §3, §5).
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "exporters/gguf/gguf_reader.h"
#include "layers/llama.h"

namespace qforge::exporters::gguf {

struct ImportedLlama {
  std::shared_ptr<layers::LlamaForCausalLM> model;
  std::vector<std::string> tokens;  // tokenizer.ggml.tokens (empty when absent)
};

// Errors (std::invalid_argument / std::runtime_error) name the file and the key or tensor.
ImportedLlama read_llama_gguf(const GgufReader& reader, const std::string& source);
ImportedLlama read_llama_gguf(const std::filesystem::path& path);

}  // namespace qforge::exporters::gguf
