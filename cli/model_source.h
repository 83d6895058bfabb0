#pragma once
// The model a command runs on: a run folder (--checkpoint DIR, with the run's tokenizer) or a llama.cpp
// GGUF file (--gguf FILE, dequantized, with the file's own SentencePiece tokenizer). Shared by
// `qforge probs`, `qforge tokenize` and `qforge generate`.
#include <CLI/CLI.hpp>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "layers/llama.h"

namespace qforge::cli {

struct ModelSource {
  std::string checkpoint;  // run folder holding checkpoint.bin
  std::string gguf;        // or a GGUF file
  std::string lora;        // optional LoRA adapter: GGUF adapter file or PEFT directory
  double lora_scale = 1.0;  // llama.cpp's user scale of that adapter
};

// Adds --checkpoint and --gguf (exactly one is required; checked by load_model).
void add_model_source_options(CLI::App& command, ModelSource& source);

struct LoadedModel {
  std::shared_ptr<layers::LlamaForCausalLM> model;  // eval mode
  int64_t vocab_size = 0;  // checkpoint: the run's tokenizer; GGUF: the token count of tokenizer.ggml.tokens
  std::function<std::vector<int64_t>(std::string_view)> encode;
  std::function<std::string(std::span<const int64_t>)> decode;
};

// Adds --lora ADAPTER and --lora-scale S (for commands that run the model).
void add_lora_options(CLI::App& command, ModelSource& source);

// std::invalid_argument when neither or both of --checkpoint and --gguf are given, or the GGUF token
// count differs from its token_embd rows.
// With --lora, the adapter is merged into the loaded FP32 (dequantized) weights as llama.cpp applies
// it: W + lora_scale · alpha / r · B A (exporters/lora/apply_lora.h; docs/gguf.md §10).
LoadedModel load_model(const ModelSource& source);
// Only the tokenizer (no weights are read): for `qforge tokenize` on vocabulary-only GGUF files.
LoadedModel load_tokenizer(const ModelSource& source);

}  // namespace qforge::cli
