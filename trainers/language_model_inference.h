#pragma once
// Running a causal language model (trained, or imported from GGUF): the full next-token distribution
// after every prefix (what `qforge probs` prints and the llama.cpp agreement tests compare), and
// sampling a continuation (greedy / temperature / top-k). trainers/run_folder.h restores the model.
#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "layers/llama.h"

namespace qforge::trainers {

struct GenerateOptions {
  std::string prompt;
  std::vector<int64_t> prompt_tokens;  // instead of prompt (models without a tokenizer: HF folders for now)
  int64_t max_new_tokens = 200;
  float temperature = 0.8f;  // 0: greedy
  int64_t top_k = 0;         // 0: whole vocabulary
  uint64_t seed = 0;
  int64_t vocabulary_limit = 0;  // sample among ids < limit (the tokenizer's); 0: every output
};

// Row i = softmax, computed in double precision, of the model's float logits at position i, i.e. the
// distribution of the token after tokens[0..i]; tokens.size() rows of vocab_size values.
// std::invalid_argument naming the id and its position when an id is outside [0, vocab_size), or when
// there are no tokens or more than max_position_embeddings.
std::vector<std::vector<double>> next_token_probabilities(layers::LlamaForCausalLM& model,
                                                          std::span<const int64_t> tokens);

// `ids` followed by options.max_new_tokens sampled tokens (options.prompt is ignored: the caller has
// tokenized it). Each step re-reads the last max_position_embeddings tokens (no KV cache).
std::vector<int64_t> generate_tokens(layers::LlamaForCausalLM& model, std::vector<int64_t> ids,
                                     const GenerateOptions& options);

}  // namespace qforge::trainers
