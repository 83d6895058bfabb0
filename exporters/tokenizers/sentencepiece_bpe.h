#pragma once
// A SentencePiece ("llama") GGUF vocabulary as a SentencePiece-style BpeTokenizer (docs/tokenizers.md §3), the tokenizer
// Hugging Face's Llama 2 tokenizer.json holds: transformers' convert_slow_tokenizer (LlamaConverter with
// SentencePieceExtractor) turns the piece scores into merges. Every split of a piece into two pieces
// of the vocabulary is a merge, ranked by the merged piece's score, highest first (ties in id order), so
// merging by rank picks the highest-scoring result first, as SentencePiece's BPE does. Control tokens
// become special added tokens, user-defined ones non-special added tokens; byte fallback to "<0xXX>",
// the unknown token, and "▁" prepended before every text piece when tokenizer.ggml.add_space_prefix.
#include <string>

#include "exporters/gguf/gguf_value.h"
#include "exporters/tokenizers/bpe_tokenizer.h"

namespace qforge::exporters::tokenizers {

// std::invalid_argument naming `source` and the key when the file holds no SentencePiece vocabulary.
BpeTokenizer sentencepiece_bpe_from_gguf(const gguf::GgufFile& file, const std::string& source);

}  // namespace qforge::exporters::tokenizers
