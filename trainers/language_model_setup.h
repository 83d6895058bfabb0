#pragma once
// The text data and vocabulary of a language-model run (run_config.proto TextData, LlamaConfig): the
// corpus part it trains on, the tokenizer a checkpoint saved, the Hugging Face-style Llama config and
// the token strings by output id that a GGUF vocabulary names (docs/gguf.md §4). Shared by the
// training task, run restore (trainers/run_folder.h) and LoRA bases.
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "data/tokenizer.h"
#include "layers/llama.h"
#include "trainers/run_config.h"

namespace qforge::trainers {

// The [data.text.corpus_begin, corpus_end) part of `corpus`, cut at UTF-8 character boundaries.
std::string corpus_part(const std::string& corpus, const config::TextData& text);
// Hugging Face-style Llama config from the run config, defaults filled in.
layers::LlamaConfig llama_config(const config::LlamaConfig& llama, int64_t tokenizer_vocab, uint64_t seed);
// model.llama.rope_scaling / rope_scaling_factor / rope_freq_factors (a GGUF base's rope scaling, docs/gguf.md
// §15) <-> layers::RopeScaling: kNone, kLinear, kFactors (kLlama3 comes from a model.llama.hf folder: refused).
layers::RopeScaling rope_scaling_of(const config::LlamaConfig& llama);
void set_rope_scaling(config::LlamaConfig& llama, const layers::RopeScaling& scaling);

// The tokenizer a run saved ("char" with its vocabulary, "byte", or "hf" with its tokenizer.json text).
std::unique_ptr<data::Tokenizer> restore_tokenizer(const std::string& kind, const std::string& vocabulary);

// Token strings by id as a GGUF vocabulary names them: byte tokens "<0xXX>", chars as UTF-8 (an "hf"
// tokenizer: the tokenizer.json's token texts).
std::vector<std::string> token_strings(const std::string& kind, const data::Tokenizer& tokenizer);
// The model's output size: the tokenizer's, or with model.llama.reserve_gguf_tokens the GGUF export's
// token count (run_config.proto).
int64_t output_vocabulary(const config::LlamaConfig& llama, const std::string& kind, const data::Tokenizer& tokenizer);
// The token strings for every output id (reserved GGUF tokens included), for export.
std::vector<std::string> output_token_strings(const config::LlamaConfig& llama, const std::string& kind,
                                              const data::Tokenizer& tokenizer);

}  // namespace qforge::trainers
