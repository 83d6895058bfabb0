#pragma once
// The byte-level BPE tokenizer of a GGUF vocabulary of type "gpt2" (tokenizer.ggml.model = "gpt2";
// llama.cpp src/llama-vocab.cpp, llama_vocab::impl::load and llm_tokenizer_bpe_session):
// tokenizer.ggml.tokens (byte-level texts), .token_type (control -> special added token,
// user-defined -> non-special added token), .merges ("left right" in rank order) and .pre, the
// pre-tokenizer name ("gpt-2", "llama-bpe", "qwen2"; "llama-bpe" also sets ignore_merges).
#include <string>

#include "exporters/gguf/gguf_value.h"
#include "exporters/tokenizers/bpe_tokenizer.h"

namespace qforge::exporters::tokenizers {

// std::invalid_argument naming `source` and the key for a missing or mistyped key, an unknown
// tokenizer.ggml.pre, or a merge that names no token.
BpeTokenizer bpe_tokenizer_from_gguf(const gguf::GgufFile& file, const std::string& source);

// The value of tokenizer.ggml.model ("" when absent), so callers can pick SPM or BPE.
std::string gguf_tokenizer_model(const gguf::GgufFile& file);

}  // namespace qforge::exporters::tokenizers
