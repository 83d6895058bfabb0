#pragma once
// The tiny two-layer Llamas of the tests: their shape (tiny_llama_shape, whose defaults are the ptq/
// and LoRA tests' model: vocabulary 40, dim 32, 4 heads / 2 KV heads, ffn 48, context 16), the ptq/
// method tests' model with weights N(0, 0.3) and its random token batches: one definition, so the tests
// differ only in the sizes, the seed and in what they assert.
#include <cstdint>
#include <random>
#include <vector>

#include "autograd/tensor.h"
#include "layers/llama_config.h"

namespace qforge::testing {

struct TinyLlamaShape {
  int64_t vocab = 40;
  int64_t hidden = 32;
  int64_t heads = 4;
  int64_t kv_heads = 2;
  int64_t ffn = 48;
  int64_t context = 16;
};

// A two-layer LlamaConfig of this shape; every other field keeps LlamaConfig's default.
inline layers::LlamaConfig tiny_llama_shape(const TinyLlamaShape& s = {}) {
  layers::LlamaConfig c;
  c.vocab_size = s.vocab;
  c.hidden_size = s.hidden;
  c.num_hidden_layers = 2;
  c.num_attention_heads = s.heads;
  c.num_key_value_heads = s.kv_heads;
  c.intermediate_size = s.ffn;
  c.max_position_embeddings = s.context;
  return c;
}

// The ptq/ tests' tiny Llama: the default shape, weights N(0, 0.3) from `seed`.
inline layers::LlamaConfig tiny_llama_config(uint64_t seed) {
  layers::LlamaConfig c = tiny_llama_shape();
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

}  // namespace qforge::testing
