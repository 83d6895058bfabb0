#pragma once
// `qforge generate (--checkpoint DIR | --gguf FILE) --prompt TEXT`: the prompt and a sampled continuation
// (greedy, temperature, top-k). With --gguf the prompt is tokenized by the file's own SentencePiece
// tokenizer and the output decoded from its tokens (U+2581 -> space, byte tokens -> bytes).
#include <string>

#include "cli/model_source.h"
#include "trainers/run.h"

namespace qforge::cli {

std::string generate_text(const ModelSource& source, const trainers::GenerateOptions& options);

}  // namespace qforge::cli
