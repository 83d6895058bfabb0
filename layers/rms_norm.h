#pragma once
// Root-mean-square layer normalisation (Zhang & Sennrich 2019), as Hugging Face's LlamaRMSNorm.
#include <cstdint>

#include "layers/module.h"

namespace qforge::layers {

/// y = x / sqrt(mean(x^2, last axis) + eps) * weight; parameter "weight" [dim], initialised to ones.
class RMSNorm : public UnaryModule {
 public:
  /// Normalises over a last axis of size `dim`.
  explicit RMSNorm(int64_t dim, float eps = 1e-6f);
  /// x [..., dim] -> same shape. Throws std::invalid_argument when x's last dim is not dim.
  Variable forward(const Variable& x) override;
  /// The scale [dim].
  const Variable& weight() const { return weight_; }
  /// The epsilon inside the square root.
  float eps() const { return eps_; }

 private:
  Variable weight_;
  float eps_;
};

}  // namespace qforge::layers
