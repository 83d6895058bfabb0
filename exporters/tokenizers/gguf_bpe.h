#pragma once
// The byte-level BPE tokenizer of a GGUF vocabulary of type "gpt2" (tokenizer.ggml.model = "gpt2";
// llama.cpp src/llama-vocab.cpp, llama_vocab::impl::load and llm_tokenizer_bpe_session):
// tokenizer.ggml.tokens (byte-level texts), .token_type (control -> special added token,
// user-defined -> non-special added token), .merges ("left right" in rank order) and .pre, the
// pre-tokenizer name, which also decides ignore_merges (pre_tokenizer.h's name table: "gpt-2", "llama-bpe",
// "smaug-bpe", "qwen2", "deepseek-llm", "deepseek-coder", "tekken", ...). Read here and written here
// (docs/gguf.md §14).
#include <cstdint>
#include <optional>
#include <string>

#include "exporters/gguf/gguf_reader.h"
#include "exporters/gguf/gguf_value.h"
#include "exporters/tokenizers/bpe_tokenizer.h"

namespace qforge::exporters::tokenizers {

// std::invalid_argument naming `source` and the key for a missing or mistyped key, an unknown
// tokenizer.ggml.pre (named), or a merge that names no token: "gguf vocabulary: FILE: key K: what"
// (io/read_error.h); the reader overload adds the byte where the key's pair starts ("key K at byte N").
BpeTokenizer bpe_tokenizer_from_gguf(const gguf::GgufFile& file, const std::string& source);
BpeTokenizer bpe_tokenizer_from_gguf(const gguf::GgufReader& reader);

// The tokenizer.ggml.* keys of `tokenizer` as a "gpt2" vocabulary of n_tokens tokens (>= tokenizer.size();
// ids without a token become "[PAD<id>]", type unused, as convert_hf_to_gguf.py pads): tokens, token_type
// (normal 1, special added token -> control 3, other added token -> user-defined 4), merges "left right" in
// rank order, pre (the name of the tokenizer's pre-tokenizer and ignore_merges), bos/eos (given, else the first special added token, as
// for Qwen2's <|endoftext|>) and add_bos_token false (qforge encodes without BOS). std::invalid_argument for
// a SentencePiece-style tokenizer, which a gpt2 vocabulary cannot hold.
void add_gpt2_vocabulary(gguf::GgufFile& file, const BpeTokenizer& tokenizer, uint64_t n_tokens,
                         std::optional<int64_t> bos, std::optional<int64_t> eos);

// The value of tokenizer.ggml.model ("" when absent), so callers can pick SPM or BPE.
std::string gguf_tokenizer_model(const gguf::GgufFile& file);

}  // namespace qforge::exporters::tokenizers
