#pragma once
// Running a trained (or imported) causal language model: restore a run's model as generate and eval
// see it, the full next-token distribution after every prefix (what `qforge probs` prints and the
// llama.cpp agreement tests compare), and sampling a continuation (greedy / temperature / top-k).
#include <cstdint>
#include <filesystem>
#include <memory>
#include <span>
#include <vector>

#include "data/tokenizer.h"
#include "layers/llama.h"
#include "trainers/run.h"

namespace qforge::trainers {

struct InferenceModel {
  std::shared_ptr<layers::LlamaForCausalLM> model;  // eval mode, the run's fake quantizers applied
  std::unique_ptr<data::Tokenizer> tokenizer;       // null for runs trained on token ids
};
// std::invalid_argument when the run is not a language model.
InferenceModel restore_inference_model(const std::filesystem::path& checkpoint_dir);

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
