#pragma once
// `qforge tokenize (--checkpoint DIR | --gguf FILE | --tokenizer tokenizer.json) (--text TEXT | --file PATH)`:
// the token ids of a text as JSON {"tokens": [...]}, with the run's tokenizer, the GGUF's own tokenizer
// (SentencePiece, or byte-level BPE for tokenizer.ggml.model "gpt2"; no BOS, special tokens as text like
// llama.cpp's test-tokenizer-0 unless --parse-special), or a Hugging Face tokenizer.json (BPE; added tokens
// split out, no BOS/EOS: HF's encode(add_special_tokens = false)); the shape tools/llamacpp/probs.mjs
// tokenize prints for llama.cpp. --write-tokenizer-json OUT writes the tokenizer as tokenizer.json
// (exporters/tokenizers/tokenizer_json.h): a "gpt2" GGUF vocabulary as byte-level BPE, a "llama" one as
// SentencePiece-style BPE with merges from its scores (exporters/tokenizers/sentencepiece_bpe.h).
#include <CLI/CLI.hpp>
#include <string>

#include "cli/model_options.h"

namespace qforge::cli {

struct TokenizeArguments {
  trainers::ModelSource source;
  std::string tokenizer_json;
  std::string text, file;
  bool parse_special = false;
  std::string write_tokenizer_json;
};

void add_tokenize(CLI::App& app, TokenizeArguments& args);
int run_tokenize(const TokenizeArguments& args);

}  // namespace qforge::cli
