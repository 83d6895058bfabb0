#pragma once
// `qforge probs (--checkpoint DIR | --gguf FILE) [--lora ADAPTER [--lora-scale S]] --tokens 1,2,3`: the
// full next-token distribution after every prefix as JSON {"tokens": [...], "probs": [[...], ...]} (softmax in double precision, 9
// significant digits), the same shape tools/llamacpp/probs.mjs prints for llama.cpp.
#include <CLI/CLI.hpp>
#include <string>

#include "cli/model_options.h"

namespace qforge::cli {

struct ProbsArguments {
  trainers::ModelSource source;
  std::string tokens;  // comma-separated ids
};

void add_probs(CLI::App& app, ProbsArguments& args);
int run_probs(const ProbsArguments& args);

}  // namespace qforge::cli
