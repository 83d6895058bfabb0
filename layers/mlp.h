#pragma once
// Multi-layer perceptron: Linear layers with an activation between consecutive layers.
#include <cstdint>
#include <memory>
#include <vector>

#include "layers/activations.h"
#include "layers/linear.h"

namespace qforge::layers {

/// sizes {in, h1, ..., out} gives Linear(in, h1), act, Linear(h1, h2), act, ..., Linear(., out)
/// (no activation after the last layer). Parameters are "layers.<i>.weight" / "layers.<i>.bias".
class MLP : public UnaryModule {
 public:
  /// At least two sizes, all positive; layer i is seeded with derive_seed(seed, i).
  MLP(const std::vector<int64_t>& sizes, Activation activation = Activation::kReLU, bool bias = true,
      uint64_t seed = 0);
  /// x [..., in] -> [..., out].
  Variable forward(const Variable& x) override;
  /// Number of Linear layers.
  size_t num_layers() const { return layers_->size(); }
  /// The i-th Linear layer.
  std::shared_ptr<Linear> layer(size_t i) const { return layers_->at<Linear>(i); }

 private:
  std::shared_ptr<ModuleList> layers_;
  std::shared_ptr<UnaryModule> activation_;
};

}  // namespace qforge::layers
