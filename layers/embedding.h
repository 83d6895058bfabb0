#pragma once
// Token embedding table (nn.Embedding): ids -> rows of "weight" [num_embeddings, dim].
#include <cstdint>

#include "layers/module.h"
#include "layers/quantizable.h"

namespace qforge::layers {

/// Lookup table; parameter "weight" [num_embeddings, embedding_dim].
class Embedding : public Module, public Quantizable {
 public:
  /// Weight ~ N(0, 1) seeded by `seed` (PyTorch's nn.Embedding default).
  Embedding(int64_t num_embeddings, int64_t embedding_dim, uint64_t seed = 0);

  /// ids of any shape -> [ids..., dim]. Out-of-range ids throw std::invalid_argument (from the op).
  Variable forward(const IndexTensor& ids);
  /// Same as forward(ids).
  Variable operator()(const IndexTensor& ids) { return forward(ids); }

  /// The table [num_embeddings, embedding_dim] (also the tied output projection of a language model).
  const Variable& weight() const { return weight_; }
  /// Vocabulary size.
  int64_t num_embeddings() const { return weight_.dim(0); }
  /// Width of each row.
  int64_t embedding_dim() const { return weight_.dim(1); }
  const Variable& quantizable_weight() const override { return weight_; }

 protected:
  Module& owner() override { return *this; }
  bool accepts_input_quantizer() const override { return false; }

 private:
  Variable weight_;
};

}  // namespace qforge::layers
