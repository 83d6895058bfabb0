#pragma once
// Fully connected layer y = x W^T + b with PyTorch's layout and initialisation (nn.Linear).
#include <cstdint>

#include "layers/module.h"
#include "layers/quantizable.h"

namespace qforge::layers {

/// y = x W^T + b. Parameters "weight" [out, in] and, when `bias`, "bias" [out]. With quantizers
/// (layers/quantizable.h): y = q_in(x) q_w(W)^T + b.
class Linear : public UnaryModule, public Quantizable {
 public:
  /// Weight and bias ~ U(-1/sqrt(in), 1/sqrt(in)) from generators seeded by `seed`.
  Linear(int64_t in_features, int64_t out_features, bool bias = true, uint64_t seed = 0);

  /// x [..., in] -> [..., out]. Throws std::invalid_argument when x's last dim is not in_features.
  Variable forward(const Variable& x) override;

  /// The weight [out, in].
  const Variable& weight() const { return weight_; }
  /// The bias [out]; undefined when built without bias.
  const Variable& bias() const { return bias_; }
  /// Input width.
  int64_t in_features() const { return in_features_; }
  /// Output width.
  int64_t out_features() const { return out_features_; }
  const Variable& quantizable_weight() const override { return weight_; }

 protected:
  Module& owner() override { return *this; }

 private:
  int64_t in_features_, out_features_;
  Variable weight_, bias_;
};

}  // namespace qforge::layers
