#pragma once
// Layer normalisation (Ba, Kiros & Hinton 2016) over the last axis, as torch.nn.LayerNorm.
#include <cstdint>

#include "layers/module.h"

namespace qforge::layers {

/// y = (x - mean) / sqrt(var + eps) * weight + bias (biased variance); parameters "weight" [dim]
/// (ones) and "bias" [dim] (zeros).
class LayerNorm : public UnaryModule {
 public:
  /// Normalises over a last axis of size `dim`.
  explicit LayerNorm(int64_t dim, float eps = 1e-5f);
  /// x [..., dim] -> same shape. Throws std::invalid_argument when x's last dim is not dim.
  Variable forward(const Variable& x) override;
  /// The scale [dim].
  const Variable& weight() const { return weight_; }
  /// The shift [dim].
  const Variable& bias() const { return bias_; }
  /// The epsilon added to the variance.
  float eps() const { return eps_; }

 private:
  Variable weight_, bias_;
  float eps_;
};

}  // namespace qforge::layers
