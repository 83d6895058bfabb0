#pragma once
// qforge's own vocabularies (data/char_tokenizer.h, data/byte_tokenizer.h, as a run's output token strings,
// trainers/language_model_setup.h) as BPE tokenizers without merges, so tokenizer.json can hold them
// (docs/hf.md §10):
//   char: SentencePiece-style with Metaspace(prepend "never", split false): the whole text is one word
//     of one symbol per character (' ' looked up as U+2581), each the id of that character;
//   byte: byte-level (GPT-2's ByteLevel): every byte is its character's token, whose id is the byte.
// With model.llama.reserve_gguf_tokens the vocabulary also holds <unk>, <s>, </s> (added special tokens)
// and <0xXX> byte tokens (a char vocabulary then falls back to them, as llama.cpp does).
// Ids agree with the run's tokenizer for every text it accepts; where the run's tokenizer throws (a
// character outside a char vocabulary) HF drops the character (or takes its byte tokens).
#include <string>
#include <vector>

#include "exporters/tokenizers/bpe_tokenizer.h"

namespace qforge::exporters::tokenizers {

// `kind` "char" or "byte"; `vocabulary` the token strings by id. std::invalid_argument naming the token
// when the vocabulary cannot be expressed (a char vocabulary holding U+2581 "▁" as well as ' ').
BpeTokenizer vocabulary_bpe(const std::string& kind, const std::vector<std::string>& vocabulary);

}  // namespace qforge::exporters::tokenizers
