#include "layers/embedding.h"

#include <stdexcept>
#include <string>

#include "autograd/ops.h"
#include "layers/init.h"

namespace qforge::layers {

Embedding::Embedding(int64_t num_embeddings, int64_t embedding_dim, uint64_t seed) {
  if (num_embeddings <= 0 || embedding_dim <= 0) {
    throw std::invalid_argument("Embedding: num_embeddings and embedding_dim must be positive, got " +
                                std::to_string(num_embeddings) + " and " + std::to_string(embedding_dim));
  }
  weight_ = register_parameter("weight", normal_init(Shape{num_embeddings, embedding_dim}, seed));
}

Variable Embedding::forward(const IndexTensor& ids) { return autograd::embedding(effective_weight(), ids); }

}  // namespace qforge::layers
