#pragma once
// The options that name the model a command runs on (--checkpoint DIR | --gguf FILE | --hf DIR, --lora, --lora-scale),
// shared by `qforge probs`, `tokenize` and `generate`. Loading is trainers/run_folder.h's load_model.
#include <CLI/CLI.hpp>

#include "trainers/run_folder.h"

namespace qforge::cli {

// Adds --checkpoint, --gguf and --hf (exactly one is required; checked by trainers::load_model).
void add_model_source_options(CLI::App& command, trainers::ModelSource& source);

// Adds --lora ADAPTER and --lora-scale S (for commands that run the model).
void add_lora_options(CLI::App& command, trainers::ModelSource& source);

}  // namespace qforge::cli
