#pragma once
// qforge's vocabulary in a llama.cpp GGUF (SentencePiece, tokenizer.ggml.model "llama"; docs/gguf.md §4).
//
// Design (so llama.cpp tokenizes text to qforge's ids): qforge's token ids 0..n-1 keep their ids as
// GGUF tokens 0..n-1; then "<unk>", "<s>", "</s>" and every byte token "<0x00>".."<0xFF>" not already
// in the list are appended (llama.cpp needs all 256 byte tokens). A space inside a token is written as
// U+2581 (SentencePiece's word marker, which llama.cpp's SPM tokenizer substitutes for ' '), and
// add_space_prefix / add_bos_token are false so no extra token is inserted. The GGUF token count is
// therefore >= the model's vocab_size: token_embd and output rows for the appended tokens are zero
// unless the run reserved them (model.llama.reserve_gguf_tokens), and the imported model has
// vocab_size = the GGUF token count.
#include <string>
#include <vector>

#include "exporters/gguf/gguf_value.h"

namespace qforge::exporters::gguf {

// The final token list: vocabulary (spaces -> U+2581) plus the appended control and byte tokens.
// std::invalid_argument naming the id for an empty or duplicate token.
std::vector<std::string> llama_gguf_tokens(const std::vector<std::string>& vocabulary);

// The tokenizer.ggml.* keys of `tokens` (a llama_gguf_tokens list): token types (normal, unknown,
// control, byte), scores -id so earlier ids win SPM merges, unk/bos/eos ids, no BOS/EOS/space prefix.
void add_llama_vocabulary(GgufFile& file, const std::vector<std::string>& tokens);

}  // namespace qforge::exporters::gguf
