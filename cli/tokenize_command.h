#pragma once
// `qforge tokenize (--checkpoint DIR | --gguf FILE) (--text TEXT | --file PATH)`: the token ids of a
// text as JSON {"tokens": [...]}, with the run's tokenizer or the GGUF's own SentencePiece tokenizer
// (no BOS), the shape tools/llamacpp/probs.mjs tokenize prints for llama.cpp.
#include <CLI/CLI.hpp>
#include <string>

#include "cli/model_options.h"

namespace qforge::cli {

struct TokenizeArguments {
  trainers::ModelSource source;
  std::string text, file;
};

void add_tokenize(CLI::App& app, TokenizeArguments& args);
int run_tokenize(const TokenizeArguments& args);

}  // namespace qforge::cli
