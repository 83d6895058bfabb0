#pragma once
// The tiny Llama the ptq/ method tests quantize (vocabulary 40, dim 32, 2 layers, 4 heads / 2 KV heads,
// ffn 48, context 16, weights N(0, 0.3)) and its random token batches: one definition, so the tests
// differ only in the seed and in what they assert.
#include <cstdint>
#include <random>
#include <vector>

#include "autograd/tensor.h"
#include "layers/llama_config.h"

namespace qforge::ptq::testing {

inline layers::LlamaConfig tiny_llama_config(uint64_t seed) {
  layers::LlamaConfig c;
  c.vocab_size = 40;
  c.hidden_size = 32;
  c.num_hidden_layers = 2;
  c.num_attention_heads = 4;
  c.num_key_value_heads = 2;
  c.intermediate_size = 48;
  c.max_position_embeddings = 16;
  c.initializer_range = 0.3f;
  c.seed = seed;
  return c;
}

// `rows` sequences of 16 uniformly random token ids from std::mt19937(seed).
inline autograd::IndexTensor tiny_llama_tokens(int64_t rows, unsigned seed) {
  std::mt19937 rng(seed);
  std::vector<int64_t> ids(static_cast<size_t>(rows * 16));
  for (int64_t& id : ids) id = rng() % 40;
  return autograd::IndexTensor(autograd::Shape{rows, 16}, std::move(ids));
}

}  // namespace qforge::ptq::testing
